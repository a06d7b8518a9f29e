@_spi(TestVectors) import SealdropEnvelope
import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys

/// Every format v1 vector, named for its case. Bad vectors are derived from
/// good ones by editing bytes, or written by a sender that breaks the
/// format's rules. The writer no longer writes v1, so every envelope here is
/// made with `version: 1` explicitly; their bytes have not changed since v1.
enum VectorCases {
    static let version = EnvelopeFormat.legacyVersion
    static let chunk = EnvelopeFormat.sealedChunkSize
    static let headerLength = EnvelopeFormat.signedHeaderLength
    static let capacity = EnvelopeFormat.chunkDataCapacity

    static func all() throws -> [Vector] {
        try good() + headerCases() + streamCases() + senderCases()
    }

    static func good() throws -> [Vector] {
        func ok(
            _ file: String, _ comment: String, size: Int, name: String, note: String = "",
            parties: EnvelopeParties = EnvelopeParties()
        ) throws -> Vector {
            let plaintext = VectorSet.pattern(size)
            return Vector(
                file: file, comment: comment, expect: "ok", plaintext: plaintext, fileName: name, note: note,
                bytes: try VectorSet.seal(plaintext, fileName: name, note: note, parties: parties, version: version)
            )
        }
        return [
            try ok("ok-empty.sealdrop", "an empty file: description and an empty final chunk", size: 0, name: "empty.sql"),
            try ok(
                "ok-small.sealdrop", "a few bytes with a note", size: 13, name: "extract.sql.gz", note: "Extract for the LIS migration.\nCall before importing."
            ),
            try ok("ok-unnamed.sealdrop", "sealed from standard input without a name", size: 1000, name: ""),
            try ok(
                "ok-one-full-chunk.sealdrop", "exactly one chunk's capacity: a full data chunk, then an empty final chunk", size: capacity, name: "full.bin"),
            try ok("ok-two-chunks.sealdrop", "one byte more than a chunk holds", size: capacity + 1, name: "two.bin"),
            try ok(
                "ok-certificate-fingerprints.sealdrop", "header carries certificate fingerprints for both parties",
                size: 100, name: "certs.csv",
                parties: EnvelopeParties(
                    senderCertificate: Fingerprint(bytes: Digest.sha256(Array("sender certificate".utf8))),
                    recipientCertificate: Fingerprint(bytes: Digest.sha256(Array("recipient certificate".utf8)))
                )
            ),
        ]
    }

    /// The base for edits: a small envelope with two data chunks.
    static func base() throws -> [UInt8] {
        try VectorSet.seal(VectorSet.pattern(2 * capacity + 10), fileName: "base.bin", version: version)
    }

    static func edited(_ bytes: [UInt8], _ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = bytes
        edit(&copy)
        return copy
    }

    static func headerCases() throws -> [Vector] {
        // Header edits need no more than the smallest envelope.
        let base = try VectorSet.seal(VectorSet.pattern(10), fileName: "base.bin", version: version)
        func bad(_ file: String, _ comment: String, _ expect: EnvelopeError.Code, _ bytes: [UInt8]) -> Vector {
            Vector(file: file, comment: comment, expect: expect.rawValue, bytes: bytes)
        }
        func resigned(_ adjust: @escaping (inout EnvelopeHeader) -> Void) throws -> [UInt8] {
            let writer = try EnvelopeWriter(
                sink: MemorySink(), sender: VectorSet.sender.identity, recipient: VectorSet.recipient.identity.publicKey,
                parties: EnvelopeParties(), created: VectorSet.created, expires: VectorSet.expires, version: version, adjustHeader: adjust
            )
            try writer.push(try FileDescription(fileName: "x.bin").encode(), tag: .message)
            try VectorSet.pushData(VectorSet.pattern(10), to: writer)
            return writer.output.bytes
        }
        return [
            bad("empty-file.sealdrop", "zero bytes", .emptyInput, []),
            bad("bad-magic.sealdrop", "the first byte of the magic changed", .badMagic, edited(base) { $0[0] ^= 0x20 }),
            bad("not-an-envelope.sealdrop", "a text file", .badMagic, Array("-- PostgreSQL database dump\n".utf8)),
            bad("unsupported-version.sealdrop", "version field 3", .unsupportedVersion, edited(base) { $0[9] = 3 }),
            bad(
                "header-too-large.sealdrop", "header length 0xffffffff", .headerTooLarge,
                edited(base) { $0.replaceSubrange(10..<14, with: [0xff, 0xff, 0xff, 0xff]) }),
            bad(
                "header-length-past-end.sealdrop", "header length 4000 in a file of 300 bytes", .truncatedHeader,
                Array(edited(base) { $0.replaceSubrange(10..<14, with: [0, 0, 0x0f, 0xa0]) }.prefix(300))),
            bad(
                "header-length-wrong.sealdrop", "header length 200, not the v1 length 268", .malformedHeader,
                edited(base) { $0.replaceSubrange(10..<14, with: [0, 0, 0, 200]) }),
            bad("truncated-preamble.sealdrop", "the file ends after 10 bytes", .truncatedHeader, Array(base.prefix(10))),
            bad("truncated-header.sealdrop", "the file ends inside the signature", .truncatedHeader, Array(base.prefix(headerLength - 1))),
            bad("bad-chunk-size.sealdrop", "a signed header declaring 32768-byte chunks", .malformedHeader, try resigned { $0.chunkSize = 32768 }),
            bad(
                "expiry-before-creation.sealdrop", "a signed header whose expiry precedes its creation", .malformedHeader,
                try resigned { $0.expires = $0.created - 1 }),
            bad(
                "header-byte-changed.sealdrop", "one bit of the creation time flipped after signing", .badSignature,
                edited(base) { $0[14 + 16 + 128 + 7] ^= 0x01 }),
            bad("signature-changed.sealdrop", "one bit of the signature flipped", .badSignature, edited(base) { $0[headerLength - 1] ^= 0x80 }),
            bad(
                "forged-sender.sealdrop", "names the expected sender's key but is signed by another key", .badSignature,
                try {
                    let writer = try EnvelopeWriter(
                        sink: MemorySink(), sender: VectorSet.other.identity, recipient: VectorSet.recipient.identity.publicKey,
                        parties: EnvelopeParties(), created: VectorSet.created, expires: VectorSet.expires, version: version,
                        adjustHeader: { $0.senderKey = VectorSet.sender.identity.fingerprint }
                    )
                    try writer.push(try FileDescription(fileName: "forged.bin").encode(), tag: .message)
                    try VectorSet.pushData(VectorSet.pattern(10), to: writer)
                    return writer.output.bytes
                }()),
            Vector(
                file: "other-sender.sealdrop", comment: "sealed and signed by another vendor than the expected sender",
                expect: EnvelopeError.Code.senderMismatch.rawValue,
                bytes: try VectorSet.seal(VectorSet.pattern(10), fileName: "other.bin", from: VectorSet.other, version: version)),
            Vector(
                file: "other-recipient.sealdrop", comment: "sealed for another vendor", expect: EnvelopeError.Code.wrongRecipient.rawValue,
                bytes: try VectorSet.seal(VectorSet.pattern(10), fileName: "other.bin", to: VectorSet.other, version: version)),
            bad(
                "bad-file-key.sealdrop", "a signed header whose sealed file key is random bytes", .fileKeyUnreadable,
                try resigned { $0.sealedFileKey = SecureRandom.bytes(EnvelopeFormat.sealedFileKeyLength) }),
        ]
    }

    static func streamCases() throws -> [Vector] {
        let base = try base()
        // base: header, description (chunk 0), data chunks 1 and 2, final chunk 3.
        func start(_ index: Int) -> Int { headerLength + index * chunk }
        func bad(_ file: String, _ comment: String, _ expect: EnvelopeError.Code, _ bytes: [UInt8]) -> Vector {
            Vector(file: file, comment: comment, expect: expect.rawValue, bytes: bytes)
        }
        let spliced = try VectorSet.seal(VectorSet.pattern(2 * capacity + 10), fileName: "base.bin", version: version)
        // The sender's own valid signature over a header that differs only in
        // its transfer id: only the binding of the stream to the header
        // (the additional data) can catch the swap.
        var renamed = try SignedEnvelopeHeader.decode(base[...]).0.header
        renamed.transferID[0] ^= 0xff
        let resignature = VectorSet.sender.identity.signingKey.signature(
            for: SignedEnvelopeHeader.signingMessage(for: renamed.encodeSignedPart(version: version)))
        let rebound = SignedEnvelopeHeader(header: renamed, signature: resignature, version: version).encoded + base.dropFirst(headerLength)
        return [
            bad(
                "chunk-byte-changed.sealdrop", "one bit of chunk 1's ciphertext flipped", .chunkAuthenticationFailed,
                edited(base) { $0[start(1) + 100] ^= 0x01 }),
            bad(
                "chunk-tag-changed.sealdrop", "one bit of chunk 2's authentication tag flipped", .chunkAuthenticationFailed,
                edited(base) { $0[start(3) - 1] ^= 0x01 }),
            bad(
                "chunks-swapped.sealdrop", "chunks 1 and 2 exchanged", .chunkAuthenticationFailed,
                edited(base) {
                    let one = Array($0[start(1)..<start(2)])
                    let two = Array($0[start(2)..<start(3)])
                    $0.replaceSubrange(start(1)..<start(3), with: two + one)
                }),
            bad("chunk-dropped.sealdrop", "chunk 1 removed", .chunkAuthenticationFailed, edited(base) { $0.removeSubrange(start(1)..<start(2)) }),
            bad(
                "stream-spliced.sealdrop", "the header of one envelope with the chunks of another from the same sender to the same recipient",
                .chunkAuthenticationFailed, Array(base.prefix(headerLength)) + Array(spliced.dropFirst(headerLength))),
            bad(
                "stream-under-resigned-header.sealdrop", "the stream of an envelope under a validly re-signed copy of its header with another transfer id",
                .chunkAuthenticationFailed, rebound),
            bad("final-chunk-missing.sealdrop", "truncated at a chunk boundary: the final chunk is gone", .truncatedStream, Array(base.prefix(start(3)))),
            bad("stream-missing.sealdrop", "the header alone", .truncatedStream, Array(base.prefix(headerLength))),
            bad("truncated-in-chunk.sealdrop", "truncated in the middle of chunk 2", .truncatedStream, Array(base.prefix(start(2) + 1000))),
            bad("truncated-in-final.sealdrop", "the last byte of the final chunk removed", .truncatedStream, Array(base.dropLast())),
            bad("trailing-data.sealdrop", "one byte appended after the final chunk", .trailingData, base + [0]),
            bad("trailing-chunk.sealdrop", "a whole copy of the final chunk appended", .trailingData, base + Array(base.suffix(chunk))),
        ]
    }

    /// Envelopes whose encryption is valid but whose sender broke the format's
    /// rules: a reader must still refuse them.
    static func senderCases() throws -> [Vector] {
        func crafted(
            _ file: String, _ comment: String, _ expect: EnvelopeError.Code,
            _ body: (EnvelopeWriter<MemorySink>) throws -> Void
        ) throws -> Vector {
            let writer = try EnvelopeWriter(
                sink: MemorySink(), sender: VectorSet.sender.identity, recipient: VectorSet.recipient.identity.publicKey,
                parties: EnvelopeParties(), created: VectorSet.created, expires: VectorSet.expires, version: version
            )
            try body(writer)
            return Vector(file: file, comment: comment, expect: expect.rawValue, bytes: writer.output.bytes)
        }
        let description = try FileDescription(fileName: "x.bin").encode()
        func rawDescription(name: [UInt8], padding: UInt8 = 0) -> [UInt8] {
            var writer = WireWriter()
            writer.writeUInt16(UInt16(name.count))
            writer.write(name)
            writer.writeUInt16(0)
            var message = writer.bytes + [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize - writer.bytes.count)
            message[message.count - 1] = padding
            return message
        }
        return [
            try crafted("final-description.sealdrop", "the description chunk carries the FINAL tag", .unexpectedTag) {
                try $0.push(description, tag: .final)
            },
            try crafted("push-tag.sealdrop", "a data chunk carries the PUSH tag", .unexpectedTag) {
                try $0.push(description, tag: .message)
                try $0.push(VectorSet.dataMessage(VectorSet.pattern(capacity), offset: 0), tag: .push)
                try $0.push(VectorSet.dataMessage([], offset: capacity), tag: .final)
            },
            try crafted("unknown-tag.sealdrop", "the final chunk carries tag byte 0x04, which no v1 writer uses", .unexpectedTag) {
                try $0.push(description, tag: .message)
                try $0.push(VectorSet.dataMessage([], offset: 0), tag: .other(0x04))
            },
            try crafted("description-padding.sealdrop", "the description's padding is not zero", .malformedMetadata) {
                try $0.push(rawDescription(name: Array("x.bin".utf8), padding: 1), tag: .message)
                try $0.push(VectorSet.dataMessage([], offset: 0), tag: .final)
            },
            try crafted("description-path.sealdrop", "the file name is a path (../etc/passwd)", .malformedMetadata) {
                try $0.push(rawDescription(name: Array("../etc/passwd".utf8)), tag: .message)
                try $0.push(VectorSet.dataMessage([], offset: 0), tag: .final)
            },
            try crafted("description-not-utf8.sealdrop", "the file name is not UTF-8", .malformedMetadata) {
                try $0.push(rawDescription(name: [0x66, 0xff, 0x66]), tag: .message)
                try $0.push(VectorSet.dataMessage([], offset: 0), tag: .final)
            },
            try crafted("short-data-chunk.sealdrop", "a chunk before the last is not full", .malformedChunk) {
                try $0.push(description, tag: .message)
                try $0.push(VectorSet.dataMessage(VectorSet.pattern(100), offset: 0), tag: .message)
                try $0.push(VectorSet.dataMessage([], offset: 100), tag: .final)
            },
            try crafted("wrong-offset.sealdrop", "the final chunk declares the wrong file offset", .malformedChunk) {
                try $0.push(description, tag: .message)
                try $0.push(VectorSet.dataMessage(VectorSet.pattern(capacity), offset: 0), tag: .message)
                try $0.push(VectorSet.dataMessage(VectorSet.pattern(5), offset: 0), tag: .final)
            },
            try crafted("chunk-padding.sealdrop", "the final chunk's padding is not zero", .malformedChunk) {
                try $0.push(description, tag: .message)
                var message = VectorSet.dataMessage(VectorSet.pattern(5), offset: 0)
                message[message.count - 1] = 0xaa
                try $0.push(message, tag: .final)
            },
            try crafted("final-length-too-large.sealdrop", "the final chunk declares more data than a chunk holds", .malformedChunk) {
                try $0.push(description, tag: .message)
                try $0.push(VectorSet.dataMessage([], offset: 0, declaredLength: capacity + 1), tag: .final)
            },
        ]
    }
}
