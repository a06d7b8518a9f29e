import Foundation
import Testing
import SealdropCrypto
@_spi(TestVectors) import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import TestSupport

/// The v2 trailer from both sides: the reader (recipient's key) and the
/// keyless verifier (sender's public key) refuse every change to it, accept
/// real ciphertext whatever the plaintext, and agree on the file's hash.
@Suite struct TrailerTests {
    static let header = EnvelopeFormat.signedHeaderLength
    static let chunk = EnvelopeFormat.sealedChunkSize
    static let trailerLength = EnvelopeFormat.trailerLength

    let vendors = Vendors()

    func verify(_ bytes: [UInt8], sender: VendorIdentity? = nil) throws -> VerifiedEnvelope {
        var source = MemorySource(bytes)
        let key = (sender ?? vendors.sender).publicKey
        return try EnvelopeVerification.verify(from: &source, length: UInt64(bytes.count)) { _ in key }
    }

    func code(_ body: () throws -> Void) -> EnvelopeError.Code? {
        do {
            try body()
            return nil
        } catch let error as EnvelopeError {
            return error.code
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test func sealerReaderAndVerifierAgreeOnTheTrailerAndTheHash() throws {
        var source = MemorySource(Fixtures.bytes(100_000))
        var sink = MemorySink()
        let now = Date()
        let sealed = try EnvelopeSealer.seal(
            from: &source, to: &sink, sender: vendors.sender,
            request: SealRequest(
                recipient: vendors.recipient.publicKey, description: try FileDescription(fileName: "a.bin"), created: now,
                expires: now.addingTimeInterval(60)))
        let bytes = sink.bytes
        let trailer = try #require(sealed.trailer)
        #expect(Array(bytes.suffix(Self.trailerLength)) == trailer.encoded)
        #expect(sealed.envelopeSHA256 == Digest.sha256(bytes))
        #expect(trailer.headerHash == Digest.sha256(bytes.prefix(Self.header)))
        #expect(trailer.contentHash == Digest.sha256(bytes.dropLast(Self.trailerLength)))
        #expect(trailer.bodyLength == UInt64(3 * Self.chunk))
        #expect(vendors.sender.publicKey.signingKey.isValidSignature(trailer.signature, for: trailer.signingMessage))

        let (_, opened) = try vendors.open(bytes)
        #expect(opened.version == 2)
        #expect(opened.trailer == trailer)
        #expect(opened.envelopeSHA256 == sealed.envelopeSHA256)
        let verified = try verify(bytes)
        #expect(verified.trailer == trailer)
        #expect(verified.sha256 == sealed.envelopeSHA256)
        #expect(verified.messageCount == 3)
        #expect(verified.signedHeader.header == sealed.header)
    }

    @Test func everyTrailerByteChangeIsRefusedByBothReaders() throws {
        let bytes = try vendors.seal(Fixtures.bytes(10))
        let start = bytes.count - Self.trailerLength
        for offset in start..<bytes.count {
            var changed = bytes
            changed[offset] ^= 0x01
            let field = offset - start
            let readerCode = code { _ = try vendors.open(changed) }
            let verifierCode = code { _ = try verify(changed) }
            // The marker makes the block no trailer; a changed body length may
            // break the whole-chunks rule before the signature is checked;
            // anything else breaks the signature.
            let allowed: Set<EnvelopeError.Code> =
                switch field {
                case 0..<16: [.malformedTrailer]
                case 48..<56: [.malformedTrailer, .badTrailerSignature]
                default: [.badTrailerSignature]
                }
            #expect(readerCode.map(allowed.contains) == true, "reader, trailer byte \(field): \(String(describing: readerCode))")
            #expect(verifierCode == readerCode, "verifier, trailer byte \(field)")
        }
    }

    @Test func theVerifierRefusesChangesAnywhereInTheFile() throws {
        let bytes = try vendors.seal(Fixtures.bytes(2 * Vendors.capacity))
        // Every header byte, and a spread of stream bytes.
        let offsets = Array(0..<Self.header) + Array(stride(from: Self.header, to: bytes.count - Self.trailerLength, by: 1999))
        for offset in offsets {
            var changed = bytes
            changed[offset] ^= 0x40
            #expect(code { _ = try verify(changed) } != nil, "byte \(offset)")
        }
    }

    @Test func theVerifierChecksTheSenderAndCutsWithoutReadingTheBody() throws {
        let bytes = try vendors.seal(Fixtures.bytes(3 * Vendors.capacity))
        #expect(code { _ = try verify(bytes, sender: vendors.stranger) } == .senderMismatch)
        for cut in [Self.trailerLength, Self.trailerLength + 1, Self.trailerLength + Self.chunk, 1] {
            let expected: EnvelopeError.Code = cut == Self.trailerLength + 1 ? .truncatedStream : .trailerMissing
            #expect(code { _ = try verify(Array(bytes.dropLast(cut))) } == expected, "cut \(cut)")
        }
        // A length the caller gets wrong is a refusal, never a trap.
        var source = MemorySource(bytes)
        #expect(throws: EnvelopeError.self) {
            _ = try EnvelopeVerification.verify(from: &source, length: 10) { _ in vendors.sender.publicKey }
        }
    }

    /// Cut anywhere, a v2 envelope is refused by both readers with a
    /// truncation error, and nothing traps.
    @Test func everyCutIsATruncationForBothReaders() throws {
        let bytes = try vendors.seal(Fixtures.bytes(10))
        let boundaries = [0, 1, 7, 8, 13, 14, Self.header - 1, Self.header, Self.header + 1, Self.header + Self.chunk]
        let nearEnd = (bytes.count - Self.trailerLength - 2)..<bytes.count
        let lengths = boundaries + Array(stride(from: 0, to: bytes.count, by: 4099)) + Array(nearEnd)
        let truncations: Set<EnvelopeError.Code> = [.emptyInput, .truncatedHeader, .truncatedStream, .trailerMissing]
        for length in lengths {
            let cut = Array(bytes.prefix(length))
            let readerCode = code { _ = try vendors.open(cut) }
            let verifierCode = code { _ = try verify(cut) }
            #expect(readerCode.map(truncations.contains) == true, "reader, \(length) bytes: \(String(describing: readerCode))")
            #expect(verifierCode.map(truncations.contains) == true, "verifier, \(length) bytes: \(String(describing: verifierCode))")
        }
    }

    @Test func realCiphertextPassesTheDistributionTestWhateverThePlaintext() throws {
        // 32 MiB of zeros: the most regular plaintext there is, 513 sealed messages.
        let zeros = try vendors.seal([UInt8](repeating: 0, count: 32 << 20))
        #expect(try verify(zeros).messageCount == 2 + UInt64((32 << 20) / Vendors.capacity))
        let text = try vendors.seal(Array(String(repeating: "INSERT INTO patient VALUES (1, 'Durand');\n", count: 200_000).utf8))
        _ = try verify(text)
    }

    @Test func aVersionOneEnvelopeStillOpensButIsNotVerifiable() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let writer = try EnvelopeWriter(
            sink: MemorySink(), sender: vendors.sender, recipient: vendors.recipient.publicKey, parties: EnvelopeParties(),
            created: now, expires: now + 60, version: EnvelopeFormat.legacyVersion)
        try writer.push(try FileDescription(fileName: "old.bin").encode(), tag: .message)
        var message = [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize)
        message.replaceSubrange(12..<15, with: [7, 8, 9])
        StreamMessage.writeFraming(into: &message, dataLength: 3, offset: 0)
        try writer.push(message, tag: .final)
        let (trailer, sha256) = try writer.finish()
        #expect(trailer == nil, "v1 has no trailer")
        let bytes = writer.output.bytes
        #expect(bytes.count == Self.header + 2 * Self.chunk)
        #expect(sha256 == Digest.sha256(bytes))

        let (plaintext, opened) = try vendors.open(bytes)
        #expect(plaintext == [7, 8, 9])
        #expect(opened.version == 1 && opened.trailer == nil)
        #expect(code { _ = try verify(bytes) } == .legacyVersion)
        // A v1 envelope given a trailer is still v1: the bytes after FINAL are trailing data.
        #expect(code { _ = try vendors.open(bytes + [UInt8](repeating: 0, count: Self.trailerLength)) } == .trailingData)
    }
}
