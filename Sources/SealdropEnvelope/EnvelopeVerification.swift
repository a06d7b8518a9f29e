import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys

/// What a keyless check established: the sender signed exactly these bytes,
/// they are a whole v2 envelope, and every message looks like ciphertext.
public struct VerifiedEnvelope: Sendable {
    public let signedHeader: SignedEnvelopeHeader
    /// The sender's verified trailer: its signature is the sender's word for
    /// this exact file, which a receipt log can keep.
    public let trailer: EnvelopeTrailer
    /// Stream messages: the description and at least the FINAL one.
    public let messageCount: UInt64
    /// Bytes in all: header, stream and trailer.
    public let length: UInt64
    /// SHA-256 of the whole envelope.
    public let sha256: [UInt8]
}

/// Checks a v2 envelope file with nothing but the sender's public key, as
/// the drop box does before it publishes an upload (envelope-v2.md, section 6).
///
/// It cannot decrypt, so it cannot see the FINAL tag; the sender's signed
/// trailer stands in for it. In one pass it hashes the file, tests every
/// message's byte distribution (`CiphertextDistribution`), and checks the
/// trailer against the header, the stream's length and the hash.
///
/// It works on a file of known length, not a pipe: the length says where
/// the trailer is, and a length no whole envelope has is refused before the
/// pass. Two steps, so a caller can apply its own rules to the verified
/// header (recipient, expiry) before the long pass: `init` reads and
/// verifies the header, `finish` reads the rest.
public struct EnvelopeVerification {
    public let signedHeader: SignedEnvelopeHeader
    /// Stream messages the length implies.
    public let messageCount: UInt64
    private let length: UInt64
    private let sender: VendorPublicKey

    /// Reads the header and makes the checks that need no more, in the
    /// spec's order: the reader's checks 1–6, then `legacy-version`,
    /// `sender-mismatch`, `bad-signature`, and the length.
    ///
    /// - Parameters:
    ///   - length: the envelope's size in bytes.
    ///   - resolveSender: finds the sender's key from the cleartext header
    ///     (and may throw to refuse the sender).
    public init<Source: ByteSource>(
        from source: inout Source, length: UInt64, resolveSender: (EnvelopeHeader) throws -> VendorPublicKey
    ) throws {
        let signed = try EnvelopeHeaderReader.read(from: &source)
        guard !signed.isLegacy else {
            throw EnvelopeError(
                .legacyVersion,
                "it is a format v1 envelope, whose completeness cannot be checked without the recipient's key; only format v2 is accepted now: update sealdrop and seal the file again"
            )
        }
        let sender = try resolveSender(signed.header)
        guard signed.header.senderKey == sender.fingerprint else {
            throw EnvelopeError(.senderMismatch, "the envelope names sender key \(signed.header.senderKey), not the expected \(sender.fingerprint)")
        }
        guard sender.signingKey.isValidSignature(signed.signature, for: signed.signingMessage) else {
            throw EnvelopeError(.badSignature, "the sender's signature over the header does not verify: the header was altered or forged")
        }
        signedHeader = signed
        messageCount = try Self.messageCount(length: length)
        self.length = length
        self.sender = sender
    }

    /// A whole v2 envelope is header + k ≥ 2 messages + trailer. One that
    /// ends on a chunk boundary, or less than a trailer past it, has lost
    /// its trailer (and perhaps more); any other length was cut inside a
    /// chunk or has bytes added.
    static func messageCount(length: UInt64) throws(EnvelopeError) -> UInt64 {
        if let count = EnvelopeFormat.messageCount(envelopeLength: length) { return count }
        let header = UInt64(EnvelopeFormat.signedHeaderLength)
        let chunk = UInt64(EnvelopeFormat.sealedChunkSize)
        let stream = length >= header ? length - header : 0
        if stream >= 2 * chunk, stream % chunk < UInt64(EnvelopeFormat.trailerLength) {
            let past = stream % chunk
            let position = past == 0 ? "at a chunk boundary" : "\(past) bytes past a chunk boundary"
            throw EnvelopeError(
                .trailerMissing,
                "it ends \(position), after \(stream / chunk) whole chunks, without the sender's whole signed trailer: it was cut short, perhaps by more than the trailer"
            )
        }
        throw EnvelopeError(
            .truncatedStream,
            "its length (\(length) bytes) is not a header, at least two whole chunks and a trailer: it was cut inside a chunk or has bytes added")
    }

    /// Reads the rest of the envelope in one pass: every message's
    /// distribution, then the trailer against the header hash, the stream's
    /// length and the content hash, then the end of the input.
    public func finish<Source: ByteSource>(from source: inout Source) throws -> VerifiedEnvelope {
        let header = signedHeader.encoded
        var hasher = EnvelopeHasher()
        hasher.update(header)
        let chunk = EnvelopeFormat.sealedChunkSize
        var buffer = [UInt8](repeating: 0, count: chunk)
        for index in 0..<messageCount {
            let finding = try buffer.withUnsafeMutableBytes { raw in
                guard try source.readFully(into: raw) == chunk else {
                    throw EnvelopeError(.truncatedStream, "the file ended inside chunk \(index) while it was read: it changed during the check")
                }
                hasher.update(UnsafeRawBufferPointer(raw))
                return CiphertextDistribution.finding(in: UnsafeRawBufferPointer(raw))
            }
            if let finding {
                throw EnvelopeError(
                    .plaintextBody,
                    "chunk \(index) does not look like ciphertext (\(finding)): the sender's software wrote plaintext; only sealed files are accepted")
            }
        }
        var trailerBytes = [UInt8](repeating: 0, count: EnvelopeFormat.trailerLength)
        let count = try trailerBytes.withUnsafeMutableBytes { try source.readFully(into: $0) }
        let trailer = try EnvelopeTrailer.verified(
            trailerBytes[0..<count], sender: sender, headerHash: Digest.sha256(header), bodyLength: messageCount * UInt64(chunk),
            contentHash: hasher.snapshot())
        var probe = [UInt8](repeating: 0, count: 1)
        guard try probe.withUnsafeMutableBytes({ try source.read(into: $0) }) == 0 else {
            throw EnvelopeError(.trailingData, "the file grew while it was read: it changed during the check")
        }
        hasher.update(trailerBytes)
        return VerifiedEnvelope(signedHeader: signedHeader, trailer: trailer, messageCount: messageCount, length: length, sha256: hasher.snapshot())
    }

    /// Both steps at once.
    public static func verify<Source: ByteSource>(
        from source: inout Source, length: UInt64, resolveSender: (EnvelopeHeader) throws -> VendorPublicKey
    ) throws -> VerifiedEnvelope {
        try EnvelopeVerification(from: &source, length: length, resolveSender: resolveSender).finish(from: &source)
    }
}
