import Foundation
import Testing
@testable import SealdropFormat

@Suite struct EnvelopeHeaderTests {
    static func sampleHeader() -> EnvelopeHeader {
        EnvelopeHeader(
            transferID: Array(0..<16),
            senderKey: Fingerprint(bytes: [UInt8](repeating: 0x11, count: 32))!,
            senderCertificate: nil,
            recipientKey: Fingerprint(bytes: [UInt8](repeating: 0x22, count: 32))!,
            recipientCertificate: Fingerprint(bytes: [UInt8](repeating: 0x33, count: 32))!,
            created: 1_800_000_000,
            expires: 1_800_259_200,
            sealedFileKey: [UInt8](repeating: 0x44, count: 80),
            streamHeader: [UInt8](repeating: 0x55, count: 24)
        )
    }

    static func sampleBytes() -> [UInt8] {
        SignedEnvelopeHeader(header: sampleHeader(), signature: [UInt8](repeating: 0x66, count: 64)).encoded
    }

    @Test func layoutMatchesTheSpec() {
        let bytes = Self.sampleBytes()
        #expect(bytes.count == EnvelopeFormat.signedHeaderLength)
        #expect(bytes.count == 346)
        #expect(Array(bytes[0..<8]) == Array("sealdrop".utf8))
        #expect(Array(bytes[8..<14]) == [0x00, 0x02, 0x00, 0x00, 0x01, 0x0c], "format v2 is written")
        #expect(Array(bytes[14..<30]) == Array(0..<16))
        // Absent sender certificate: 32 zero bytes at offset 62.
        #expect(bytes[62..<94].allSatisfy { $0 == 0 })
        #expect(Array(bytes[158..<166]) == [0x00, 0x00, 0x00, 0x00, 0x6b, 0x49, 0xd2, 0x00])
        #expect(Array(bytes[174..<178]) == [0x00, 0x01, 0x00, 0x00])
        #expect(bytes[282..<346].allSatisfy { $0 == 0x66 })
    }

    @Test func versionOneHeadersKeepTheirLayoutAndContext() throws {
        let legacy = SignedEnvelopeHeader(header: Self.sampleHeader(), signature: [UInt8](repeating: 0x66, count: 64), version: 1)
        #expect(Array(legacy.encoded[8..<10]) == [0x00, 0x01])
        #expect(Array(legacy.encoded[10...]) == Array(Self.sampleBytes()[10...]), "only the version differs")
        let (decoded, _) = try SignedEnvelopeHeader.decode(legacy.encoded[...])
        #expect(decoded.version == 1 && decoded.isLegacy)
        #expect(decoded.signingMessage.starts(with: Array("sealdrop-envelope-v1-header".utf8) + [0]))
        let (current, _) = try SignedEnvelopeHeader.decode(Self.sampleBytes()[...])
        #expect(current.version == 2 && !current.isLegacy)
        #expect(current.signingMessage.starts(with: Array("sealdrop-envelope-v2-header".utf8) + [0]))
        #expect(current.signingMessage.dropFirst(28).elementsEqual(current.signedPart))
    }

    @Test func roundTripsWhole() throws {
        let bytes = Self.sampleBytes()
        let (decoded, count) = try SignedEnvelopeHeader.decode(bytes[...])
        #expect(count == bytes.count)
        #expect(decoded.header == Self.sampleHeader())
        #expect(decoded.encoded == bytes)
    }

    @Test func asksForMoreUntilCompleteWhenFedByteByByte() throws {
        let bytes = Self.sampleBytes() + [0xaa, 0xbb]
        for length in 0..<EnvelopeFormat.signedHeaderLength {
            let result = try SignedEnvelopeHeader.parse(bytes.prefix(length))
            guard case .needsMore(let atLeast) = result else {
                Issue.record("complete after only \(length) bytes")
                return
            }
            #expect(atLeast > length)
        }
        guard case .complete(let header, let count) = try SignedEnvelopeHeader.parse(bytes[...]) else {
            Issue.record("incomplete with every byte present")
            return
        }
        #expect(count == EnvelopeFormat.signedHeaderLength)
        #expect(header.header == Self.sampleHeader())
    }

    @Test func rejectsWrongMagicFromTheFirstByte() {
        #expect(throws: EnvelopeError(.badMagic, "")) { try SignedEnvelopeHeader.parse([0x53][...]) }
        #expect(throws: EnvelopeError(.emptyInput, "")) { try SignedEnvelopeHeader.decode([][...]) }
    }

    @Test(arguments: [
        ("version 3", 9, UInt8(3), EnvelopeError.Code.unsupportedVersion),
        ("version 0", 9, UInt8(0), .unsupportedVersion),
        ("header length 0x0f00_010c", 10, UInt8(0x0f), .headerTooLarge),
        ("header length 0x0001_010c", 11, UInt8(0x01), .headerTooLarge),
        ("chunk size 0x01_0100", 176, UInt8(0x01), .malformedHeader),
    ])
    func rejectsStructuralErrors(_ name: String, _ offset: Int, _ value: UInt8, _ code: EnvelopeError.Code) {
        var bytes = Self.sampleBytes()
        bytes[offset] = value
        #expect(throws: EnvelopeError(code, ""), "\(name)") { try SignedEnvelopeHeader.decode(bytes[...]) }
    }

    @Test func rejectsExpiryNotAfterCreation() {
        var header = Self.sampleHeader()
        header.expires = header.created
        let bytes = SignedEnvelopeHeader(header: header, signature: [UInt8](repeating: 0, count: 64)).encoded
        #expect(throws: EnvelopeError(.malformedHeader, "")) { try SignedEnvelopeHeader.decode(bytes[...]) }
    }

    @Test func truncatedHeaderNamesWhatIsMissing() {
        let bytes = Self.sampleBytes().prefix(100)
        do {
            _ = try SignedEnvelopeHeader.decode(bytes)
            Issue.record("a truncated header decoded")
        } catch {
            #expect(error.code == .truncatedHeader)
            #expect(error.message.contains("346"))
        }
    }

    @Test func randomMutationsNeverTrapAndValidOnesRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        let original = Self.sampleBytes()
        for _ in 0..<5_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) {
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            }
            if let (decoded, count) = try? SignedEnvelopeHeader.decode(bytes[...]) {
                #expect(decoded.encoded == Array(bytes.prefix(count)))
            }
        }
    }

    @Test func envelopeLengthConsistency() {
        // v2: header, at least two messages, trailer.
        #expect(EnvelopeFormat.minimumEnvelopeLength == 131_604)
        #expect(EnvelopeFormat.isConsistentLength(UInt64(346 + 2 * 65_553 + 152)))
        #expect(EnvelopeFormat.messageCount(envelopeLength: UInt64(346 + 7 * 65_553 + 152)) == 7)
        #expect(!EnvelopeFormat.isConsistentLength(UInt64(346 + 2 * 65_553)), "cut at a chunk boundary: no trailer")
        #expect(!EnvelopeFormat.isConsistentLength(UInt64(346 + 65_553 + 152)))
        #expect(!EnvelopeFormat.isConsistentLength(UInt64(346 + 2 * 65_553 + 153)))
        #expect(!EnvelopeFormat.isConsistentLength(0))
        // v1: no trailer.
        #expect(EnvelopeFormat.isConsistentLength(UInt64(346 + 2 * 65_553), version: 1))
        #expect(EnvelopeFormat.messageCount(envelopeLength: UInt64(346 + 7 * 65_553), version: 1) == 7)
        #expect(!EnvelopeFormat.isConsistentLength(UInt64(346 + 65_553), version: 1))
        #expect(!EnvelopeFormat.isConsistentLength(UInt64(346 + 2 * 65_553 + 1), version: 1))
    }

    @Test func fingerprintPrintsLikeOpenSSH() {
        let fingerprint = Fingerprint(bytes: [UInt8](repeating: 0, count: 32))!
        #expect(fingerprint.description == "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        #expect(Fingerprint(bytes: [UInt8](repeating: 0, count: 31)) == nil)
    }
}
