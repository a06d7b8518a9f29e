@_spi(TestVectors) import SealdropEnvelope
import SealdropCrypto
import SealdropFormat
import SealdropIO

/// The format v2 vectors. Each says what the reader (recipient's key) and
/// what the keyless verifier (sender's public key only, the drop box) must
/// make of it; where they differ, the comment says why. The reader's header
/// checks are the same as in v1 and covered there; these cover the trailer,
/// what the verifier can and cannot see, and plaintext under a valid
/// signature.
enum VectorCasesV2 {
    static let version = EnvelopeFormat.version
    static let chunk = EnvelopeFormat.sealedChunkSize
    static let headerLength = EnvelopeFormat.signedHeaderLength
    static let capacity = EnvelopeFormat.chunkDataCapacity

    static func all() throws -> [Vector] {
        try good() + headerCases() + trailerCases() + plaintextCases()
    }

    static func ok(
        _ file: String, _ comment: String, size: Int, name: String, note: String = "",
        parties: EnvelopeParties = EnvelopeParties(), version: UInt16 = version, verifier: String = "ok"
    ) throws -> Vector {
        let plaintext = VectorSet.pattern(size)
        return Vector(
            file: file, comment: comment, expect: "ok", expectVerifier: verifier, plaintext: plaintext, fileName: name, note: note,
            bytes: try VectorSet.seal(plaintext, fileName: name, note: note, parties: parties, version: version)
        )
    }

    static func bad(_ file: String, _ comment: String, reader: EnvelopeError.Code, verifier: EnvelopeError.Code?, _ bytes: [UInt8]) -> Vector {
        Vector(file: file, comment: comment, expect: reader.rawValue, expectVerifier: verifier?.rawValue ?? "ok", bytes: bytes)
    }

    static func good() throws -> [Vector] {
        [
            try ok("ok-empty.sealdrop", "an empty file: description, an empty final chunk, trailer", size: 0, name: "empty.sql"),
            try ok(
                "ok-small.sealdrop", "a few bytes with a note", size: 13, name: "extract.sql.gz", note: "Extract for the LIS migration.\nCall before importing."
            ),
            try ok(
                "ok-one-full-chunk.sealdrop", "exactly one chunk's capacity: a full data chunk, an empty final chunk, trailer", size: capacity,
                name: "full.bin"),
            try ok("ok-two-chunks.sealdrop", "one byte more than a chunk holds", size: capacity + 1, name: "two.bin"),
            try ok(
                "ok-certificate-fingerprints.sealdrop", "header carries certificate fingerprints for both parties",
                size: 100, name: "certs.csv",
                parties: EnvelopeParties(
                    senderCertificate: Fingerprint(bytes: Digest.sha256(Array("sender certificate".utf8))),
                    recipientCertificate: Fingerprint(bytes: Digest.sha256(Array("recipient certificate".utf8)))
                )
            ),
            try ok(
                "ok-v1-in-flight.sealdrop", "a format v1 envelope sealed before v2: readers still open it, the drop box refuses it as a new upload",
                size: 1000, name: "legacy.bin", version: EnvelopeFormat.legacyVersion, verifier: EnvelopeError.Code.legacyVersion.rawValue),
        ]
    }

    /// The base for edits: header, description (chunk 0), data chunks 1 and 2,
    /// final chunk 3, trailer.
    static func base() throws -> [UInt8] {
        try VectorSet.seal(VectorSet.pattern(2 * capacity + 10), fileName: "base.bin", version: version)
    }

    static func start(_ index: Int) -> Int { headerLength + index * chunk }
    static let trailerStart = start(4)

    static func edited(_ bytes: [UInt8], _ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = bytes
        edit(&copy)
        return copy
    }

    static func headerCases() throws -> [Vector] {
        let small = try VectorSet.seal(VectorSet.pattern(10), fileName: "base.bin", version: version)
        // The v2 header signed under the v1 context: domain separation per
        // version, so a v1 signature never makes a valid v2 header.
        let signedPart = Array(small.prefix(headerLength - EnvelopeFormat.signatureLength))
        let v1Context = VectorSet.sender.identity.signingKey.signature(for: EnvelopeFormat.headerSignatureContext + signedPart)
        return [
            bad(
                "unsupported-version.sealdrop", "version field 3", reader: .unsupportedVersion, verifier: .unsupportedVersion,
                edited(small) { $0[9] = 3 }),
            bad(
                "header-signed-with-v1-context.sealdrop", "a v2 header signed under the v1 header context", reader: .badSignature, verifier: .badSignature,
                edited(small) { $0.replaceSubrange((headerLength - EnvelopeFormat.signatureLength)..<headerLength, with: v1Context) }),
            bad(
                "other-sender.sealdrop", "sealed and signed by another vendor than the expected sender", reader: .senderMismatch, verifier: .senderMismatch,
                try VectorSet.seal(VectorSet.pattern(10), fileName: "other.bin", from: VectorSet.other, version: version)),
            bad(
                "other-recipient.sealdrop", "sealed for another vendor: only the reader knows its own key; the drop box checks the recipient by policy",
                reader: .wrongRecipient, verifier: nil,
                try VectorSet.seal(VectorSet.pattern(10), fileName: "other.bin", to: VectorSet.other, version: version)),
        ]
    }

    /// A trailer over `headerHash`, `bodyLength`, `contentHash`, signed by
    /// `key` under `context` (the trailer context unless a case says otherwise).
    static func trailer(
        headerHash: [UInt8], bodyLength: UInt64, contentHash: [UInt8], by key: VectorKey = VectorSet.sender,
        context: [UInt8] = EnvelopeFormat.trailerSignatureContext
    ) -> [UInt8] {
        let signedPart = EnvelopeTrailer.encodeSignedPart(headerHash: headerHash, bodyLength: bodyLength, contentHash: contentHash)
        return signedPart + key.identity.signingKey.signature(for: context + signedPart)
    }

    /// `header` and `body` followed by the trailer the sender would sign for them.
    static func signed(header: [UInt8], body: [UInt8]) -> [UInt8] {
        let content = header + body
        return content
            + trailer(headerHash: Digest.sha256(header), bodyLength: UInt64(body.count), contentHash: Digest.sha256(content))
    }

    static func trailerCases() throws -> [Vector] {
        let base = try base()
        let header = Array(base.prefix(headerLength))
        let body = Array(base[headerLength..<trailerStart])
        let content = Array(base.prefix(trailerStart))
        let headerHash = Digest.sha256(header)
        let contentHash = Digest.sha256(content)
        let bodyLength = UInt64(body.count)
        // Another envelope from the same sender to the same recipient, same size.
        let sibling = try VectorSet.seal(VectorSet.pattern(2 * capacity + 10), fileName: "sibling.bin", version: version)

        // A sender whose software signs a trailer over a stream without a
        // FINAL message: the verifier cannot see tags, only the reader can.
        let writer = try EnvelopeWriter(
            sink: MemorySink(), sender: VectorSet.sender.identity, recipient: VectorSet.recipient.identity.publicKey,
            parties: EnvelopeParties(), created: VectorSet.created, expires: VectorSet.expires)
        try writer.push(try FileDescription(fileName: "unfinished.bin").encode(), tag: .message)
        try writer.push(VectorSet.dataMessage(VectorSet.pattern(capacity), offset: 0), tag: .message)
        try writer.finish()

        return [
            bad(
                "trailer-missing.sealdrop", "cut at the chunk boundary after the final chunk: the trailer is gone", reader: .trailerMissing,
                verifier: .trailerMissing, content),
            bad(
                "cut-at-chunk-boundary.sealdrop", "cut at the chunk boundary before the final chunk: the final chunk and the trailer are gone",
                reader: .truncatedStream, verifier: .trailerMissing, Array(base.prefix(start(3)))),
            bad(
                "trailer-cut.sealdrop", "the last byte of the trailer removed", reader: .trailerMissing, verifier: .trailerMissing,
                Array(base.dropLast())),
            bad(
                "final-chunk-dropped-trailer-kept.sealdrop", "the final chunk removed and the sender's trailer re-attached", reader: .truncatedStream,
                verifier: .trailerLengthMismatch, Array(base.prefix(start(3))) + Array(base.suffix(EnvelopeFormat.trailerLength))),
            bad(
                "chunk-dropped-trailer-kept.sealdrop", "data chunk 2 removed, the sender's trailer kept", reader: .chunkAuthenticationFailed,
                verifier: .trailerLengthMismatch, edited(base) { $0.removeSubrange(start(2)..<start(3)) }),
            bad(
                "truncated-in-chunk.sealdrop", "cut in the middle of chunk 2", reader: .truncatedStream, verifier: .truncatedStream,
                Array(base.prefix(start(2) + 1000))),
            bad(
                "trailer-marker-changed.sealdrop", "one bit of the trailer's marker flipped", reader: .malformedTrailer, verifier: .malformedTrailer,
                edited(base) { $0[trailerStart] ^= 0x01 }),
            bad(
                "trailer-length-not-chunks.sealdrop", "a signed trailer declaring a 100-byte stream, not whole chunks", reader: .malformedTrailer,
                verifier: .malformedTrailer, content + trailer(headerHash: headerHash, bodyLength: 100, contentHash: contentHash)),
            bad(
                "trailer-signature-changed.sealdrop", "one bit of the trailer's signature flipped", reader: .badTrailerSignature,
                verifier: .badTrailerSignature, edited(base) { $0[$0.count - 1] ^= 0x80 }),
            bad(
                "trailer-signed-by-other.sealdrop", "the right trailer fields signed by another vendor's key", reader: .badTrailerSignature,
                verifier: .badTrailerSignature,
                content + trailer(headerHash: headerHash, bodyLength: bodyLength, contentHash: contentHash, by: VectorSet.other)),
            bad(
                "trailer-signed-with-header-context.sealdrop", "the right trailer fields signed under the v2 header context", reader: .badTrailerSignature,
                verifier: .badTrailerSignature,
                content
                    + trailer(headerHash: headerHash, bodyLength: bodyLength, contentHash: contentHash, context: EnvelopeFormat.headerSignatureContextV2)),
            bad(
                "trailer-body-length-wrong.sealdrop", "a trailer the sender signed over one chunk more than the stream holds",
                reader: .trailerLengthMismatch, verifier: .trailerLengthMismatch,
                content + trailer(headerHash: headerHash, bodyLength: bodyLength + UInt64(chunk), contentHash: contentHash)),
            bad(
                "trailer-hash-wrong.sealdrop", "a trailer the sender signed over another content hash", reader: .trailerHashMismatch,
                verifier: .trailerHashMismatch,
                content + trailer(headerHash: headerHash, bodyLength: bodyLength, contentHash: Digest.sha256(body))),
            bad(
                "trailer-from-other-envelope.sealdrop", "the trailer of another envelope of the same sender, recipient and size",
                reader: .trailerHeaderMismatch, verifier: .trailerHeaderMismatch,
                content + Array(sibling.suffix(EnvelopeFormat.trailerLength))),
            bad(
                "header-swapped.sealdrop", "another envelope's valid header over this stream and its valid trailer", reader: .chunkAuthenticationFailed,
                verifier: .trailerHeaderMismatch, Array(sibling.prefix(headerLength)) + Array(base.dropFirst(headerLength))),
            bad(
                "chunk-byte-changed.sealdrop", "one bit of chunk 1's ciphertext flipped", reader: .chunkAuthenticationFailed,
                verifier: .trailerHashMismatch, edited(base) { $0[start(1) + 100] ^= 0x01 }),
            bad(
                "chunks-swapped.sealdrop", "chunks 1 and 2 exchanged", reader: .chunkAuthenticationFailed, verifier: .trailerHashMismatch,
                edited(base) {
                    let one = Array($0[start(1)..<start(2)])
                    let two = Array($0[start(2)..<start(3)])
                    $0.replaceSubrange(start(1)..<start(3), with: two + one)
                }),
            bad(
                "trailing-data.sealdrop", "one byte appended after the trailer: to a verifier that knows only the length, a cut or a padding",
                reader: .trailingData, verifier: .truncatedStream, base + [0]),
            bad(
                "trailer-doubled.sealdrop", "the trailer appended twice", reader: .trailingData, verifier: .truncatedStream,
                base + Array(base.suffix(EnvelopeFormat.trailerLength))),
            bad(
                "final-tag-missing-signed.sealdrop",
                "the sender signed a trailer over a stream without a FINAL chunk: only the reader can see the tag, the verifier takes the sender's word",
                reader: .truncatedStream, verifier: nil, writer.output.bytes),
        ]
    }

    /// Plaintext under a valid header and a valid trailer: the reader fails
    /// authentication, the verifier the distribution test.
    static func plaintextCases() throws -> [Vector] {
        let writer = try EnvelopeWriter(
            sink: MemorySink(), sender: VectorSet.sender.identity, recipient: VectorSet.recipient.identity.publicKey,
            parties: EnvelopeParties(), created: VectorSet.created, expires: VectorSet.expires)
        let header = writer.output.bytes
        let length = 2 * chunk
        var sql = [UInt8]()
        var row = 0
        while sql.count < length {
            row += 1
            sql += Array("INSERT INTO patient (id, name, nir, blood_group, hiv) VALUES (\(row), 'Durand', '1 85 05 78 006 084', 'O+', false);\n".utf8)
        }
        return [
            bad(
                "plaintext-sql-body.sealdrop", "an SQL dump in place of the stream, under a valid header and a valid trailer",
                reader: .chunkAuthenticationFailed, verifier: .plaintextBody, signed(header: header, body: Array(sql.prefix(length)))),
            bad(
                "zero-body.sealdrop", "zero bytes in place of the stream, under a valid header and a valid trailer", reader: .chunkAuthenticationFailed,
                verifier: .plaintextBody, signed(header: header, body: [UInt8](repeating: 0, count: length))),
            bad(
                "counter-body.sealdrop", "bytes 00 01 … ff repeated: every byte value equally often, caught by the differences",
                reader: .chunkAuthenticationFailed, verifier: .plaintextBody,
                signed(header: header, body: (0..<length).map { UInt8(truncatingIfNeeded: $0) })),
        ]
    }
}
