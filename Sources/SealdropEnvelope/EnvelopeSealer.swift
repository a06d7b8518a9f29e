import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys

/// What to seal, for whom, and until when.
public struct SealRequest: Sendable {
    public var recipient: VendorPublicKey
    public var parties: EnvelopeParties
    public var description: FileDescription
    public var created: Date
    public var expires: Date

    public init(
        recipient: VendorPublicKey,
        parties: EnvelopeParties = EnvelopeParties(),
        description: FileDescription,
        created: Date = Date(),
        expires: Date
    ) {
        self.recipient = recipient
        self.parties = parties
        self.description = description
        self.created = created
        self.expires = expires
    }
}

/// What was sealed.
public struct SealResult: Sendable {
    public let header: EnvelopeHeader
    public let plaintextSize: UInt64
    public let envelopeSize: UInt64
    /// The signed trailer written after the stream (format v2).
    public let trailer: EnvelopeTrailer?
    /// SHA-256 of the whole envelope, as the drop box records it.
    public let envelopeSHA256: [UInt8]
}

/// Seals a byte stream into a format v2 envelope in one pass, holding one
/// chunk of plaintext and one of ciphertext in memory whatever the input
/// size, and signs the result in the trailer.
public enum EnvelopeSealer {
    public static func seal<Source: ByteSource, Sink: ByteSink>(
        from source: inout Source,
        to sink: inout Sink,
        sender: VendorIdentity,
        request: SealRequest
    ) throws -> SealResult {
        let created = Int64(request.created.timeIntervalSince1970.rounded(.down))
        let expires = Int64(request.expires.timeIntervalSince1970.rounded(.down))
        // The same rule readers apply (spec, step 6): never write a file
        // that every reader would refuse.
        guard created >= 0, expires > created else {
            throw EnvelopeError(
                .malformedHeader, "cannot seal: the creation time must be after 1970 and the expiry after the creation time; check the system clock")
        }
        let writer = try EnvelopeWriter(
            sink: sink, sender: sender, recipient: request.recipient,
            parties: request.parties, created: created, expires: expires
        )
        try writer.push(request.description.encode(), tag: .message)

        let capacity = EnvelopeFormat.chunkDataCapacity
        let framing = EnvelopeFormat.dataFramingLength
        var message = [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize)
        var offset: UInt64 = 0
        while true {
            let count = try message.withUnsafeMutableBytes { buffer in
                try source.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[framing..<(framing + capacity)]))
            }
            // A full chunk may be followed by end of input; then the final
            // message is empty, which keeps the writer free of read-ahead.
            let isFinal = count < capacity
            StreamMessage.writeFraming(into: &message, dataLength: count, offset: offset)
            try writer.push(message, tag: isFinal ? .final : .message)
            offset += UInt64(count)
            if isFinal { break }
        }
        let (trailer, sha256) = try writer.finish()
        sink = writer.output
        return SealResult(
            header: writer.signedHeader.header, plaintextSize: offset, envelopeSize: writer.bytesWritten,
            trailer: trailer, envelopeSHA256: sha256)
    }
}
