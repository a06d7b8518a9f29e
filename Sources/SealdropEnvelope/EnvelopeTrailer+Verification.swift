import SealdropFormat
import SealdropKeys

extension EnvelopeTrailer {
    /// Decodes the bytes found after the stream and checks them against what
    /// the reader saw, in the spec's order (envelope-v2.md, section 5.3):
    /// structure, the sender's signature, then each signed field. The fields
    /// are compared only once the signature holds, so a mismatch always
    /// names a trailer the sender really signed.
    ///
    /// - Parameters:
    ///   - bytes: what follows the last message, at most the trailer's length.
    ///   - headerHash: SHA-256 of the header bytes the reader parsed.
    ///   - bodyLength: stream bytes the reader saw.
    ///   - contentHash: SHA-256 of every byte before the trailer.
    static func verified(
        _ bytes: ArraySlice<UInt8>, sender: VendorPublicKey, headerHash: [UInt8], bodyLength: UInt64, contentHash: [UInt8]
    ) throws(EnvelopeError) -> EnvelopeTrailer {
        let trailer = try EnvelopeTrailer.decode(bytes)
        guard sender.signingKey.isValidSignature(trailer.signature, for: trailer.signingMessage) else {
            throw EnvelopeError(
                .badTrailerSignature, "the sender's signature over the trailer does not verify: the trailer was altered, forged, or signed by another key")
        }
        guard trailer.headerHash == headerHash else {
            throw EnvelopeError(
                .trailerHeaderMismatch, "the trailer was signed for another header: the header was swapped, or the trailer taken from another envelope")
        }
        guard trailer.bodyLength == bodyLength else {
            let signed = trailer.bodyLength / UInt64(EnvelopeFormat.sealedChunkSize)
            let found = bodyLength / UInt64(EnvelopeFormat.sealedChunkSize)
            throw EnvelopeError(
                .trailerLengthMismatch,
                "the sender signed a stream of \(trailer.bodyLength) bytes (\(signed) chunks) and the envelope holds \(bodyLength) (\(found)): chunks were removed or added"
            )
        }
        guard trailer.contentHash == contentHash else {
            throw EnvelopeError(.trailerHashMismatch, "the envelope's bytes differ from those the sender signed in the trailer: it was altered after sealing")
        }
        return trailer
    }
}
