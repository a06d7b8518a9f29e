import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys

/// Writes an envelope message by message: the signed header, then whole
/// 64 KiB plaintext messages, each encrypted and bound to the header, then
/// (format v2) the sender's signed trailer.
///
/// `EnvelopeSealer` drives it in the only order the format allows. It is
/// exposed to the test-vector generator, which also drives it in orders the
/// format forbids, to produce the malformed files readers must reject.
@_spi(TestVectors)
public final class EnvelopeWriter<Sink: ByteSink> {
    public let signedHeader: SignedEnvelopeHeader
    private var sink: Sink
    private let sender: VendorIdentity
    private let pusher: SecretStreamPusher
    private let additionalData: [UInt8]
    private var ciphertext = [UInt8](repeating: 0, count: EnvelopeFormat.sealedChunkSize)
    private var hasher = EnvelopeHasher()
    public private(set) var bytesWritten: UInt64 = 0

    /// Seals a fresh file key to `recipient`, signs the header as `sender`
    /// and writes it. `version` is 2 but for the generator of v1 vectors.
    public init(
        sink: Sink,
        sender: VendorIdentity,
        recipient: VendorPublicKey,
        parties: EnvelopeParties,
        created: Int64,
        expires: Int64,
        version: UInt16 = EnvelopeFormat.version,
        adjustHeader: (inout EnvelopeHeader) -> Void = { _ in }
    ) throws {
        precondition(EnvelopeFormat.readableVersions.contains(version))
        self.sink = sink
        self.sender = sender
        let fileKey = SecretStream.generateKey()
        pusher = try SecretStreamPusher(key: fileKey)
        var header = EnvelopeHeader(
            transferID: SecureRandom.bytes(EnvelopeFormat.transferIDLength),
            senderKey: sender.fingerprint,
            senderCertificate: parties.senderCertificate,
            recipientKey: recipient.fingerprint,
            recipientCertificate: parties.recipientCertificate,
            created: created,
            expires: expires,
            sealedFileKey: try SealedBox.seal(fileKey, to: recipient.encryptionKey),
            streamHeader: pusher.header
        )
        adjustHeader(&header)
        let signedPart = header.encodeSignedPart(version: version)
        let signature = sender.signingKey.signature(for: SignedEnvelopeHeader.signingMessage(for: signedPart))
        signedHeader = SignedEnvelopeHeader(header: header, signature: signature, version: version)
        let encoded = signedHeader.encoded
        additionalData = Digest.sha256(encoded)
        try write(encoded)
    }

    /// SHA-256 of the header bytes: every message's additional data, and the
    /// trailer's header hash.
    public var headerHash: [UInt8] { additionalData }

    /// SHA-256 of everything written so far.
    public var contentHash: [UInt8] { hasher.snapshot() }

    /// Encrypts one whole plaintext message and writes it.
    public func push(_ message: [UInt8], tag: SecretStreamTag) throws {
        precondition(message.count == EnvelopeFormat.chunkSize)
        message.withUnsafeBytes { plain in
            ciphertext.withUnsafeMutableBytes { out in
                pusher.push(plain, additionalData: additionalData, tag: tag, into: out)
            }
        }
        try write(ciphertext)
    }

    /// The trailer for what was written so far, signed by the sender: the
    /// header hash, the stream's length and the hash of every byte written.
    public func makeTrailer() -> EnvelopeTrailer {
        let bodyLength = bytesWritten - UInt64(EnvelopeFormat.signedHeaderLength)
        let contentHash = hasher.snapshot()
        let message = EnvelopeTrailer.signingMessage(headerHash: additionalData, bodyLength: bodyLength, contentHash: contentHash)
        return EnvelopeTrailer(
            headerHash: additionalData, bodyLength: bodyLength, contentHash: contentHash,
            signature: sender.signingKey.signature(for: message))
    }

    /// Writes the trailer (format v2; v1 has none) after the FINAL message
    /// and returns it with the SHA-256 of the whole envelope.
    @discardableResult
    public func finish() throws -> (trailer: EnvelopeTrailer?, sha256: [UInt8]) {
        guard !signedHeader.isLegacy else { return (nil, hasher.snapshot()) }
        let trailer = makeTrailer()
        try write(trailer.encoded)
        return (trailer, hasher.snapshot())
    }

    /// Writes raw bytes after the stream (only for building bad vectors).
    public func appendRaw(_ bytes: [UInt8]) throws {
        try write(bytes)
    }

    private func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            try sink.write(raw)
            hasher.update(raw)
        }
        bytesWritten += UInt64(bytes.count)
    }

    /// The sink, for callers that need to finish it (commit, flush).
    public var output: Sink { sink }
}

/// Certificate fingerprints recorded in the header, when the parties were
/// named by certificate rather than by bare key.
public struct EnvelopeParties: Sendable {
    public var senderCertificate: Fingerprint?
    public var recipientCertificate: Fingerprint?

    public init(senderCertificate: Fingerprint? = nil, recipientCertificate: Fingerprint? = nil) {
        self.senderCertificate = senderCertificate
        self.recipientCertificate = recipientCertificate
    }
}
