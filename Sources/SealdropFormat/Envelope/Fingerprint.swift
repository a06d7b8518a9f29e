/// A SHA-256 fingerprint of a public key blob or certificate, printed the way
/// OpenSSH prints key fingerprints (`SHA256:` + unpadded Base64), so a user
/// can compare it with `ssh-keygen -lf KEY.pub`.
public struct Fingerprint: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    public let bytes: [UInt8]

    /// Fails unless `bytes` is exactly 32 bytes long.
    public init?<C: Collection<UInt8>>(bytes: C) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    /// All zeros: the encoding of "no certificate" in an envelope header.
    static let absent = Fingerprint(bytes: [UInt8](repeating: 0, count: byteCount))!

    var isAbsent: Bool { bytes.allSatisfy { $0 == 0 } }

    public var description: String {
        "SHA256:" + Base64.encode(bytes, padded: false)
    }
}
