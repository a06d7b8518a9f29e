import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys

/// What an opened envelope held, once every check has passed.
public struct OpenResult: Sendable {
    public let header: EnvelopeHeader
    public let description: FileDescription
    public let plaintextSize: UInt64
}

/// Opens an envelope in one pass, making every check of the spec in its
/// order, with constant memory.
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
        var (header, description, stream) = try begin(from: &source, recipient: recipient, resolveSender: resolveSender)

        var offset: UInt64 = 0
        while true {
            let index = stream.index
            let (tag, message) = try stream.next(from: &source)
            let isFinal = tag == .final
            guard isFinal || tag == .message else {
                throw EnvelopeError(.unexpectedTag, "chunk \(index) carries the \(tag) tag, which format v1 does not use")
            }
            let range = try StreamMessage.dataRange(in: message, index: index, expectedOffset: offset, isFinal: isFinal)
            try message[range].withUnsafeBytes { data in
                try sink.write(data)
            }
            offset += UInt64(range.count)
            if isFinal { break }
        }
        var probe = [UInt8](repeating: 0, count: 1)
        let extra = try probe.withUnsafeMutableBytes { try source.read(into: $0) }
        guard extra == 0 else {
            throw EnvelopeError(.trailingData, "there are bytes after the final chunk; the file was altered after sealing")
        }
        return OpenResult(header: header, description: description, plaintextSize: offset)
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
        let (header, description, _) = try begin(from: &source, recipient: recipient, resolveSender: resolveSender)
        return (header, description)
    }

    /// The spec's reader steps up to chunk 0: header, sender, signature,
    /// recipient, file key, file description.
    static func begin<Source: ByteSource>(
        from source: inout Source,
        recipient: VendorIdentity,
        resolveSender: (EnvelopeHeader) throws -> VendorPublicKey
    ) throws -> (EnvelopeHeader, FileDescription, ChunkReader) {
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

        var stream = ChunkReader(puller: puller, additionalData: Digest.sha256(signed.encoded))
        let (firstTag, first) = try stream.next(from: &source)
        guard firstTag == .message else {
            throw EnvelopeError(.unexpectedTag, "chunk 0 (the file description) carries the \(firstTag) tag; it must be an ordinary message")
        }
        let description = try FileDescription.decode(first)
        return (header, description, stream)
    }
}

/// Reads and decrypts whole chunks, naming each failure with its index.
struct ChunkReader {
    let puller: SecretStreamPuller
    let additionalData: [UInt8]
    private(set) var index: UInt64 = 0
    private var ciphertext = [UInt8](repeating: 0, count: EnvelopeFormat.sealedChunkSize)
    private var plaintext = [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize)

    init(puller: SecretStreamPuller, additionalData: [UInt8]) {
        self.puller = puller
        self.additionalData = additionalData
    }

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
        index += 1
        return (tag, plaintext)
    }
}
