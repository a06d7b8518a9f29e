import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys

/// What an opened envelope held, once every check has passed.
public struct OpenResult: Sendable {
    public let header: EnvelopeHeader
    public let description: FileDescription
    public let plaintextSize: UInt64
    /// The format version: 2, or 1 for an envelope sealed before v2.
    public let version: UInt16
    /// The sender's verified trailer (format v2): the sender signed exactly
    /// these bytes.
    public let trailer: EnvelopeTrailer?
    /// SHA-256 of the whole envelope, the hash the drop box records.
    public let envelopeSHA256: [UInt8]
}

/// Opens an envelope (format v2, or v1 sealed before it) in one pass,
/// making every check of the spec in its order, with constant memory.
///
/// The sink receives plaintext before the FINAL chunk has verified, so it
/// must hold it out of sight (`AtomicOutputFile`, `SpoolFile`) and release
/// it only when `open` returns; on a throw, discard it.
public enum EnvelopeOpener {
    /// Opens an envelope that `expectedSender` must have sealed.
    public static func open<Source: ByteSource, Sink: ByteSink>(
        from source: inout Source,
        to sink: inout Sink,
        recipient: VendorIdentity,
        expectedSender: VendorPublicKey
    ) throws -> OpenResult {
        try open(from: &source, to: &sink, recipient: recipient) { _ in expectedSender }
    }

    /// Opens an envelope whose sender key `resolveSender` finds from the
    /// cleartext header (by certificate fingerprint, say) and vouches for;
    /// it may throw to refuse the sender before any decryption.
    public static func open<Source: ByteSource, Sink: ByteSink>(
        from source: inout Source,
        to sink: inout Sink,
        recipient: VendorIdentity,
        resolveSender: (EnvelopeHeader) throws -> VendorPublicKey
    ) throws -> OpenResult {
        let begun = try begin(from: &source, recipient: recipient, resolveSender: resolveSender)
        return try body(begun, from: &source, to: &sink)
    }

    /// Opens an envelope like `open(from:to:recipient:resolveSender:)`, with
    /// a sink made only once the file description has verified: a receiver
    /// that names its output after the sender's file name decides there,
    /// in the same pass.
    public static func open<Source: ByteSource, Sink: ByteSink>(
        from source: inout Source,
        recipient: VendorIdentity,
        resolveSender: (EnvelopeHeader) throws -> VendorPublicKey,
        sink makeSink: (EnvelopeHeader, FileDescription) throws -> Sink
    ) throws -> (OpenResult, Sink) {
        let begun = try begin(from: &source, recipient: recipient, resolveSender: resolveSender)
        var sink = try makeSink(begun.0.header, begun.2)
        let result = try body(begun, from: &source, to: &sink)
        return (result, sink)
    }

    /// The spec's reader steps after chunk 0: the data chunks, the trailer,
    /// nothing after it.
    static func body<Source: ByteSource, Sink: ByteSink>(
        _ begun: (SignedEnvelopeHeader, VendorPublicKey, FileDescription, ChunkReader),
        from source: inout Source,
        to sink: inout Sink
    ) throws -> OpenResult {
        let (signed, sender, description, reader) = begun
        var stream = reader

        var offset: UInt64 = 0
        while true {
            let index = stream.index
            let (tag, message) = try stream.next(from: &source)
            let isFinal = tag == .final
            guard isFinal || tag == .message else {
                throw EnvelopeError(.unexpectedTag, "chunk \(index) carries the \(tag) tag, which the envelope format does not use")
            }
            let range = try StreamMessage.dataRange(in: message, index: index, expectedOffset: offset, isFinal: isFinal)
            try message[range].withUnsafeBytes { data in
                try sink.write(data)
            }
            offset += UInt64(range.count)
            if isFinal { break }
        }
        var trailer: EnvelopeTrailer?
        if !signed.isLegacy {
            let found = try stream.readTrailer(from: &source)
            trailer = try EnvelopeTrailer.verified(
                found[...], sender: sender, headerHash: stream.additionalData, bodyLength: stream.bodyLength, contentHash: stream.contentHash)
            stream.hashTrailer(found)
        }
        var probe = [UInt8](repeating: 0, count: 1)
        let extra = try probe.withUnsafeMutableBytes { try source.read(into: $0) }
        guard extra == 0 else {
            let after = signed.isLegacy ? "the final chunk" : "the trailer"
            throw EnvelopeError(.trailingData, "there are bytes after \(after); the file was altered after sealing")
        }
        return OpenResult(
            header: signed.header, description: description, plaintextSize: offset, version: signed.version, trailer: trailer,
            envelopeSHA256: stream.contentHash)
    }
}

extension EnvelopeOpener {
    /// The verified header and file description, without reading the data:
    /// every check up to chunk 0 (sender, signature, recipient, file key).
    /// A receiver uses it to choose a file name before decrypting.
    public static func describe<Source: ByteSource>(
        from source: inout Source,
        recipient: VendorIdentity,
        resolveSender: (EnvelopeHeader) throws -> VendorPublicKey
    ) throws -> (EnvelopeHeader, FileDescription) {
        let (signed, _, description, _) = try begin(from: &source, recipient: recipient, resolveSender: resolveSender)
        return (signed.header, description)
    }

    /// The spec's reader steps up to chunk 0: header, sender, signature,
    /// recipient, file key, file description.
    static func begin<Source: ByteSource>(
        from source: inout Source,
        recipient: VendorIdentity,
        resolveSender: (EnvelopeHeader) throws -> VendorPublicKey
    ) throws -> (SignedEnvelopeHeader, VendorPublicKey, FileDescription, ChunkReader) {
        let signed = try EnvelopeHeaderReader.read(from: &source)
        let header = signed.header
        let expectedSender = try resolveSender(header)

        guard header.senderKey == expectedSender.fingerprint else {
            throw EnvelopeError(
                .senderMismatch,
                "the envelope names sender key \(header.senderKey), not the expected \(expectedSender.fingerprint); check that you named the right sender")
        }
        guard expectedSender.signingKey.isValidSignature(signed.signature, for: signed.signingMessage) else {
            throw EnvelopeError(.badSignature, "the sender's signature over the header does not verify: the header was altered or forged")
        }
        guard header.recipientKey == recipient.fingerprint else {
            throw EnvelopeError(.wrongRecipient, "the envelope is sealed for key \(header.recipientKey), not for your key \(recipient.fingerprint)")
        }
        let fileKey: SecretBytes
        do {
            fileKey = try SealedBox.open(header.sealedFileKey, with: recipient.decryptionKey())
        } catch {
            throw EnvelopeError(.fileKeyUnreadable, "the file key sealed in the header does not open with your key")
        }
        guard fileKey.count == SecretStream.keyLength,
            let puller = try? SecretStreamPuller(key: fileKey, header: header.streamHeader)
        else {
            throw EnvelopeError(.fileKeyUnreadable, "the file key or stream header in the envelope is invalid")
        }

        var stream = ChunkReader(puller: puller, header: signed.encoded)
        let (firstTag, first) = try stream.next(from: &source)
        guard firstTag == .message else {
            throw EnvelopeError(.unexpectedTag, "chunk 0 (the file description) carries the \(firstTag) tag; it must be an ordinary message")
        }
        let description = try FileDescription.decode(first)
        return (signed, expectedSender, description, stream)
    }
}

/// Reads and decrypts whole chunks, naming each failure with its index, and
/// hashes every byte it reads for the v2 trailer.
struct ChunkReader {
    let puller: SecretStreamPuller
    /// SHA-256 of the header bytes: every message's additional data.
    let additionalData: [UInt8]
    private(set) var index: UInt64 = 0
    private var hasher = EnvelopeHasher()
    private var ciphertext = [UInt8](repeating: 0, count: EnvelopeFormat.sealedChunkSize)
    private var plaintext = [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize)

    init(puller: SecretStreamPuller, header: [UInt8]) {
        self.puller = puller
        additionalData = Digest.sha256(header)
        hasher.update(header)
    }

    /// Stream bytes read so far.
    var bodyLength: UInt64 { index * UInt64(EnvelopeFormat.sealedChunkSize) }

    /// SHA-256 of every byte read so far.
    var contentHash: [UInt8] { hasher.snapshot() }

    mutating func next<Source: ByteSource>(from source: inout Source) throws -> (SecretStreamTag, [UInt8]) {
        let count = try ciphertext.withUnsafeMutableBytes { try source.readFully(into: $0) }
        if count == 0 {
            let what = index == 0 ? "before the file description" : "after chunk \(index - 1) without a final chunk"
            throw EnvelopeError(.truncatedStream, "the envelope ends \(what): the file was truncated")
        }
        guard count == EnvelopeFormat.sealedChunkSize else {
            throw EnvelopeError(.truncatedStream, "chunk \(index) is cut short (\(count) of \(EnvelopeFormat.sealedChunkSize) bytes): the file was truncated")
        }
        let tag: SecretStreamTag
        do {
            tag = try ciphertext.withUnsafeBytes { sealed in
                try plaintext.withUnsafeMutableBytes { open in
                    try puller.pull(sealed, additionalData: additionalData, into: open)
                }
            }
        } catch {
            throw EnvelopeError(.chunkAuthenticationFailed, "chunk \(index) fails authentication: it was altered, reordered, or taken from another envelope")
        }
        hasher.update(ciphertext)
        index += 1
        return (tag, plaintext)
    }

    /// Reads up to a trailer's length after the FINAL message (fewer only at
    /// the end of the input).
    func readTrailer<Source: ByteSource>(from source: inout Source) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: EnvelopeFormat.trailerLength)
        let count = try bytes.withUnsafeMutableBytes { try source.readFully(into: $0) }
        return Array(bytes.prefix(count))
    }

    /// Adds the verified trailer to the whole-file hash.
    mutating func hashTrailer(_ trailer: [UInt8]) {
        hasher.update(trailer)
    }
}
