import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys

/// Writes an envelope message by message: the signed header, then whole
/// 64 KiB plaintext messages, each encrypted and bound to the header.
///
/// `EnvelopeSealer` drives it in the only order format v1 allows. It is
/// exposed to the test-vector generator, which also drives it in orders the
/// format forbids, to produce the malformed files readers must reject.
@_spi(TestVectors)
public final class EnvelopeWriter<Sink: ByteSink> {
    public let signedHeader: SignedEnvelopeHeader
    private var sink: Sink
    private let pusher: SecretStreamPusher
    private let additionalData: [UInt8]
    private var ciphertext = [UInt8](repeating: 0, count: EnvelopeFormat.sealedChunkSize)
    public private(set) var bytesWritten: UInt64 = 0

    /// Seals a fresh file key to `recipient`, signs the header as `sender`
    /// and writes it.
    public init(
        sink: Sink,
        sender: VendorIdentity,
        recipient: VendorPublicKey,
        parties: EnvelopeParties,
        created: Int64,
        expires: Int64,
        adjustHeader: (inout EnvelopeHeader) -> Void = { _ in }
    ) throws {
        self.sink = sink
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
        let signedPart = header.encodeSignedPart()
        let signature = sender.signingKey.signature(for: SignedEnvelopeHeader.signingMessage(for: signedPart))
        signedHeader = SignedEnvelopeHeader(header: header, signature: signature)
        let encoded = signedHeader.encoded
        additionalData = Digest.sha256(encoded)
        try self.sink.write(encoded)
        bytesWritten = UInt64(encoded.count)
    }

    /// Encrypts one whole plaintext message and writes it.
    public func push(_ message: [UInt8], tag: SecretStreamTag) throws {
        precondition(message.count == EnvelopeFormat.chunkSize)
        message.withUnsafeBytes { plain in
            ciphertext.withUnsafeMutableBytes { out in
                pusher.push(plain, additionalData: additionalData, tag: tag, into: out)
            }
        }
        try sink.write(ciphertext)
        bytesWritten += UInt64(ciphertext.count)
    }

    /// Writes raw bytes after the stream (only for building bad vectors).
    public func appendRaw(_ bytes: [UInt8]) throws {
        try sink.write(bytes)
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
