/// The fixed-size block after the stream of a v2 envelope: the sender's
/// signature over the whole ciphertext before it.
///
/// The drop box cannot see the encrypted FINAL tag, so without this block it
/// cannot tell a complete envelope from one cut at a chunk boundary. The
/// trailer names the header (by hash), the stream's length and the hash of
/// every byte before the trailer, under the sender's Ed25519 signature: a
/// reader holding only the sender's public key checks in one pass, while it
/// hashes the file anyway, that it holds exactly what the sender sealed.
///
/// Decoding checks structure only; the signature is checked where the
/// sender's key is (`SealdropEnvelope`), because this layer does no
/// cryptography.
public struct EnvelopeTrailer: Equatable, Sendable {
    /// SHA-256 of the header bytes (preamble, body, signature): the same 32
    /// bytes as every message's additional data.
    public let headerHash: [UInt8]
    /// Bytes of the stream between header and trailer: 65553 per message.
    public let bodyLength: UInt64
    /// SHA-256 of every byte before the trailer (header and stream), so the
    /// hash a reader computes anyway for the whole file serves here too.
    public let contentHash: [UInt8]
    public let signature: [UInt8]

    /// The bytes before the signature: marker, header hash, body length, content hash.
    public static let signedLength = EnvelopeFormat.trailerLength - EnvelopeFormat.signatureLength

    public init(headerHash: [UInt8], bodyLength: UInt64, contentHash: [UInt8], signature: [UInt8]) {
        precondition(headerHash.count == 32 && contentHash.count == 32 && signature.count == EnvelopeFormat.signatureLength)
        self.headerHash = headerHash
        self.bodyLength = bodyLength
        self.contentHash = contentHash
        self.signature = signature
    }

    /// Marker, header hash, body length, content hash: what the sender signs
    /// (after the context).
    public static func encodeSignedPart(headerHash: [UInt8], bodyLength: UInt64, contentHash: [UInt8]) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: signedLength)
        writer.write(EnvelopeFormat.trailerMarker)
        writer.write(headerHash)
        writer.writeUInt64(bodyLength)
        writer.write(contentHash)
        return writer.bytes
    }

    /// The message the sender signs: the trailer context, then the signed part.
    public static func signingMessage(headerHash: [UInt8], bodyLength: UInt64, contentHash: [UInt8]) -> [UInt8] {
        EnvelopeFormat.trailerSignatureContext + encodeSignedPart(headerHash: headerHash, bodyLength: bodyLength, contentHash: contentHash)
    }

    public var signingMessage: [UInt8] {
        Self.signingMessage(headerHash: headerHash, bodyLength: bodyLength, contentHash: contentHash)
    }

    /// The 152 bytes as they appear in the file.
    public var encoded: [UInt8] {
        Self.encodeSignedPart(headerHash: headerHash, bodyLength: bodyLength, contentHash: contentHash) + signature
    }

    /// Decodes exactly `EnvelopeFormat.trailerLength` bytes: the marker must
    /// match and the body length must be a whole number of messages, at
    /// least two (description and final), or the block is not a trailer.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(EnvelopeError) -> EnvelopeTrailer {
        guard bytes.count == EnvelopeFormat.trailerLength else {
            throw .init(
                .trailerMissing,
                "the envelope ends \(bytes.count) bytes after the final chunk, where the sender's \(EnvelopeFormat.trailerLength)-byte trailer belongs: it was cut short"
            )
        }
        guard bytes.prefix(EnvelopeFormat.trailerMarker.count).elementsEqual(EnvelopeFormat.trailerMarker) else {
            throw .init(.malformedTrailer, "the bytes after the final chunk are not a sealdrop trailer (its marker is missing)")
        }
        var reader = WireReader(bytes.dropFirst(EnvelopeFormat.trailerMarker.count))
        do {
            let headerHash = Array(try reader.readBytes(32))
            let bodyLength = try reader.readUInt64()
            let contentHash = Array(try reader.readBytes(32))
            let signature = Array(try reader.readBytes(EnvelopeFormat.signatureLength))
            let message = UInt64(EnvelopeFormat.sealedChunkSize)
            guard bodyLength >= 2 * message, bodyLength % message == 0 else {
                throw EnvelopeError(
                    .malformedTrailer,
                    "the trailer declares a stream of \(bodyLength) bytes, which is not a whole number of at least two \(message)-byte chunks")
            }
            return EnvelopeTrailer(headerHash: headerHash, bodyLength: bodyLength, contentHash: contentHash, signature: signature)
        } catch let error as EnvelopeError {
            throw error
        } catch {
            // The length was checked above, so the reader cannot run out.
            throw .init(.malformedTrailer, "\(error)")
        }
    }
}
