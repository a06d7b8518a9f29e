/// Does a sealed stream message look like ciphertext? The drop box cannot
/// decrypt, so this byte-distribution test is how it refuses a body that a
/// broken or careless client wrote in the clear under a valid header and
/// trailer (text, CSV, SQL, JSON, zero runs, counters, repeated patterns).
///
/// ## The test
///
/// A fixed sample of each 65553-byte message: four windows of 4096 bytes
/// starting at offsets 0, 16384, 32768 and 49152 (16384 bytes in all).
/// Two histograms of 256 counts each:
/// - the sampled byte values;
/// - the differences `b[i+1] - b[i] (mod 256)` for every sampled position
///   `i` (the byte after a window's last one is read, never counted), which
///   catches counters and short repeated patterns whose bytes are evenly
///   spread, such as 00 01 02 … FF.
///
/// The message passes when every one of the 512 counts lies in
/// `acceptedCounts` (8…146; random data expects 64 of each).
///
/// ## False rejections: at most 2^-51.6 per message (computed)
///
/// Ciphertext of `crypto_secretstream_xchacha20poly1305` (ChaCha20 keystream
/// XOR plaintext, then a Poly1305 tag masked by the keystream) is modelled as
/// independent uniform bytes. Then each byte count is Binomial(16384, 1/256).
/// So is each difference count: within a window, the map from its 4097 bytes
/// to (first byte, 4096 differences) is a bijection of Z_256^4097, so the
/// differences are independent and uniform too, and windows are disjoint.
/// Exact binomial tails (summed in log space; `CiphertextDistributionTests`
/// recomputes them):
///
///     P(N <= 7)   = 1.419e-19 = 2^-62.61
///     P(N >= 147) = 4.257e-19 = 2^-61.03
///
/// A union bound over the 512 counts (no independence needed) gives
/// 512 × (1.419e-19 + 4.257e-19) = 2.906e-16 = 2^-51.61 per message: at most
/// 2^-37.6 for a 1 GiB upload (2^14 messages) and 2^-31.6 for the drop box's
/// 64 GiB ceiling (2^20 messages). A falsely refused sender seals again
/// (fresh key, fresh ciphertext) and the retry passes.
///
/// ## What it cannot catch
///
/// Bytes that are already close to uniform: compressed archives (gzip, zstd,
/// xz), images and video, and data already encrypted with something else.
/// The test guards against a client that forgot to encrypt, not against a
/// sender set on storing plaintext, who can always disguise it (XOR with a
/// published key stream). The spec (envelope-v2.md, section 6) says the same.
public enum CiphertextDistribution {
    /// Sampled windows per message.
    public static let windowCount = 4
    /// Bytes per window: 4 KiB keeps a message's sample at a quarter of it,
    /// which bounds the server's cost, while 16384 sampled bytes expect 64 of
    /// each value, enough for a lower bound of 8 to catch any byte value that
    /// is missing (text, CSV and SQL use a fraction of the 256).
    public static let windowLength = 4096
    /// Distance between window starts: the sample is spread over the message.
    public static let windowStride = 16384
    /// Bytes sampled per message (and differences counted): 16384.
    public static let sampleLength = windowCount * windowLength
    /// The smallest message the sample fits in (a window's last difference
    /// reads one byte past it). Every stream message (65553 bytes) is larger.
    public static let minimumMessageLength = (windowCount - 1) * windowStride + windowLength + 1
    /// Counts random data reaches with probability at least 1 − 2^-61 each
    /// (see the type's documentation for the computation).
    public static let acceptedCounts: ClosedRange<Int> = 8...146

    /// What makes a message look like plaintext.
    public struct Finding: Equatable, Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            case byteValue = "byte value"
            case difference = "difference between neighbouring bytes"
        }

        public let kind: Kind
        public let value: UInt8
        public let count: Int

        public var description: String {
            let hex = "0x" + (value < 16 ? "0" : "") + String(value, radix: 16)
            return "\(kind.rawValue) \(hex) occurs \(count) times in a \(CiphertextDistribution.sampleLength)-byte sample, where ciphertext has "
                + "\(CiphertextDistribution.acceptedCounts.lowerBound) to \(CiphertextDistribution.acceptedCounts.upperBound)"
        }
    }

    /// Checks one sealed message; nil when it looks like ciphertext.
    /// `message` must hold at least `minimumMessageLength` bytes.
    public static func finding(in message: UnsafeRawBufferPointer) -> Finding? {
        precondition(message.count >= minimumMessageLength)
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 512) { counts in
            counts.initialize(repeating: 0)
            let bytes = message.bindMemory(to: UInt8.self)
            let base = bytes.baseAddress!
            let counted = counts.baseAddress!
            for window in 0..<windowCount {
                let start = window * windowStride
                var current = base[start]
                for index in (start + 1)...(start + windowLength) {
                    let next = base[index]
                    counted[Int(current)] &+= 1
                    counted[256 + Int(next &- current)] &+= 1
                    current = next
                }
            }
            for slot in 0..<512 where !acceptedCounts.contains(Int(counts[slot])) {
                return Finding(kind: slot < 256 ? .byteValue : .difference, value: UInt8(slot & 0xff), count: Int(counts[slot]))
            }
            return nil
        }
    }

    /// The same check on an array (tests and tools).
    public static func finding(in message: [UInt8]) -> Finding? {
        message.withUnsafeBytes { finding(in: $0) }
    }
}
