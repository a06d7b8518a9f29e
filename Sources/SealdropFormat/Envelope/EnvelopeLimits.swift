/// The fixed numbers of envelope formats v1 and v2. The specs
/// (`Sources/SealdropFormat/Spec/envelope-v1.md`, `envelope-v2.md`)
/// explain each one.
public enum EnvelopeFormat {
    /// The first eight bytes of every envelope.
    public static let magic: [UInt8] = Array("sealdrop".utf8)

    /// The version this code writes: v2, whose signed trailer lets a server
    /// check without any secret key that an upload is whole.
    public static let version: UInt16 = 2

    /// Format v1: no trailer. Still opened (envelopes already in flight),
    /// never written, and refused by the drop box for new uploads.
    public static let legacyVersion: UInt16 = 1

    /// Every version a reader opens.
    public static let readableVersions: Set<UInt16> = [legacyVersion, version]

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

    /// Domain separation for the sender's v1 header signature, so a signature
    /// made by a vendor key for SSH or any other purpose never verifies here.
    public static let headerSignatureContext: [UInt8] = Array("sealdrop-envelope-v1-header".utf8) + [0]

    /// The v2 header signature's context: one per version and per signed
    /// object, so no signature verifies as anything but what it was made for.
    public static let headerSignatureContextV2: [UInt8] = Array("sealdrop-envelope-v2-header".utf8) + [0]

    /// The v2 trailer signature's context, distinct from both header contexts.
    public static let trailerSignatureContext: [UInt8] = Array("sealdrop-envelope-v2-trailer".utf8) + [0]

    /// The header signature context for `version` (v1 or v2).
    public static func headerSignatureContext(version: UInt16) -> [UInt8] {
        version == legacyVersion ? headerSignatureContext : headerSignatureContextV2
    }

    /// The first 16 bytes of a v2 trailer.
    public static let trailerMarker: [UInt8] = Array("sealdrop-trailer".utf8)

    /// marker (16) + header hash (32) + body length (8) + content hash (32) + signature (64).
    public static let trailerLength = 152

    /// Bytes after the stream: none in v1, the trailer in v2.
    public static func trailerLength(version: UInt16) -> Int {
        version == legacyVersion ? 0 : trailerLength
    }

    /// The smallest well-formed v2 envelope: header, metadata message,
    /// final message, trailer.
    public static let minimumEnvelopeLength = signedHeaderLength + 2 * sealedChunkSize + trailerLength

    /// The number of stream messages in an envelope of `length` bytes, or nil
    /// when no complete envelope of `version` has that length (the check a
    /// server can make on size alone). A trailer (152 bytes) is shorter than
    /// a message, so the count is unambiguous.
    public static func messageCount(envelopeLength length: UInt64, version: UInt16 = version) -> UInt64? {
        let fixed = UInt64(signedHeaderLength + trailerLength(version: version))
        guard length >= fixed + 2 * UInt64(sealedChunkSize) else { return nil }
        let body = length - fixed
        guard body % UInt64(sealedChunkSize) == 0 else { return nil }
        return body / UInt64(sealedChunkSize)
    }

    /// True when `length` is a header followed by at least two whole
    /// messages and, from v2 on, the trailer.
    public static func isConsistentLength(_ length: UInt64, version: UInt16 = version) -> Bool {
        messageCount(envelopeLength: length, version: version) != nil
    }
}
