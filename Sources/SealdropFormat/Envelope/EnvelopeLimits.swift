/// The fixed numbers of envelope format v1. The spec
/// (`Sources/SealdropFormat/Spec/envelope-v1.md`) explains each one.
public enum EnvelopeFormat {
    /// The first eight bytes of every envelope.
    public static let magic: [UInt8] = Array("sealdrop".utf8)

    /// The only version this code reads and writes.
    public static let version: UInt16 = 1

    /// magic (8) + version (2) + header body length (4).
    public static let preambleLength = 14

    /// The v1 header body is fixed-size; see `EnvelopeHeader.encodeBody()`.
    public static let headerBodyLength = 268

    /// A reader refuses to buffer a declared header body larger than this,
    /// so a hostile length field cannot make it allocate without bound.
    public static let maximumHeaderBodyLength = 4096

    /// Ed25519 detached signature.
    public static let signatureLength = 64

    /// Preamble + body + signature: everything before the first chunk.
    public static let signedHeaderLength = preambleLength + headerBodyLength + signatureLength

    /// Plaintext bytes per stream message. 64 KiB keeps the per-chunk
    /// overhead (17 bytes of secretstream tag, 12 of framing) under 0.05%,
    /// fits comfortably in a CPU cache, and bounds a reader's memory to two
    /// buffers of this size whatever the file size.
    public static let chunkSize = 65_536

    /// `crypto_secretstream_xchacha20poly1305_ABYTES`: what each message grows by.
    public static let chunkOverhead = 17

    /// Ciphertext bytes per stream message; every message has this size.
    public static let sealedChunkSize = chunkSize + chunkOverhead

    /// Data message framing: uint32 data length + uint64 file offset.
    public static let dataFramingLength = 12

    /// File bytes carried by one data message.
    public static let chunkDataCapacity = chunkSize - dataFramingLength

    /// Length of the random transfer id.
    public static let transferIDLength = 16

    /// `crypto_box_SEALBYTES` (48) + a 32-byte secretstream key.
    public static let sealedFileKeyLength = 80

    /// `crypto_secretstream_xchacha20poly1305_HEADERBYTES`.
    public static let streamHeaderLength = 24

    /// File names are a single path component; 255 bytes is the common
    /// file-system limit (NAME_MAX on Linux).
    public static let maximumFileNameLength = 255

    /// A note is a sentence or two for the recipient, not a document.
    public static let maximumNoteLength = 1024

    /// Domain separation for the sender's header signature, so a signature
    /// made by a vendor key for SSH or any other purpose never verifies here.
    public static let headerSignatureContext: [UInt8] = Array("sealdrop-envelope-v1-header".utf8) + [0]

    /// The smallest well-formed envelope: header, metadata message, final message.
    public static let minimumEnvelopeLength = signedHeaderLength + 2 * sealedChunkSize

    /// True when `length` is a header followed by at least two whole
    /// messages: the check a server can make on size alone.
    public static func isConsistentLength(_ length: UInt64) -> Bool {
        guard length >= UInt64(minimumEnvelopeLength) else { return false }
        return (length - UInt64(signedHeaderLength)) % UInt64(sealedChunkSize) == 0
    }
}
