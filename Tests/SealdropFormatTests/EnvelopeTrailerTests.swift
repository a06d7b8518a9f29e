import Testing
@testable import SealdropFormat

@Suite struct EnvelopeTrailerTests {
    static let chunk = UInt64(EnvelopeFormat.sealedChunkSize)

    static func sample(bodyLength: UInt64 = 3 * chunk) -> EnvelopeTrailer {
        EnvelopeTrailer(
            headerHash: [UInt8](repeating: 0x11, count: 32), bodyLength: bodyLength,
            contentHash: [UInt8](repeating: 0x22, count: 32), signature: [UInt8](repeating: 0x33, count: 64))
    }

    @Test func layoutMatchesTheSpec() {
        let bytes = Self.sample().encoded
        #expect(bytes.count == 152)
        #expect(Array(bytes[0..<16]) == Array("sealdrop-trailer".utf8))
        #expect(bytes[16..<48].allSatisfy { $0 == 0x11 })
        #expect(Array(bytes[48..<56]) == [0, 0, 0, 0, 0, 0x03, 0x00, 0x33], "3 × 65553 = 196659 = 0x030033")
        #expect(bytes[56..<88].allSatisfy { $0 == 0x22 })
        #expect(bytes[88..<152].allSatisfy { $0 == 0x33 })
    }

    @Test func theSignedMessageHasItsOwnContext() {
        let trailer = Self.sample()
        let context = Array("sealdrop-envelope-v2-trailer".utf8) + [0]
        #expect(trailer.signingMessage == context + Array(trailer.encoded.prefix(88)))
        #expect(context != EnvelopeFormat.headerSignatureContextV2 && context != EnvelopeFormat.headerSignatureContext)
    }

    @Test func roundTrips() throws {
        let trailer = Self.sample()
        #expect(try EnvelopeTrailer.decode(trailer.encoded[...]) == trailer)
    }

    @Test func refusesWhatIsNotATrailer() {
        let bytes = Self.sample().encoded
        for length in [0, 1, 151] {
            #expect(throws: EnvelopeError(.trailerMissing, "")) { try EnvelopeTrailer.decode(bytes.prefix(length)) }
        }
        var marker = bytes
        marker[3] ^= 0x20
        #expect(throws: EnvelopeError(.malformedTrailer, "")) { try EnvelopeTrailer.decode(marker[...]) }
        for length in [0, Self.chunk, 2 * Self.chunk + 1, 5 * Self.chunk - 1] {
            #expect(throws: EnvelopeError(.malformedTrailer, ""), "body length \(length)") {
                try EnvelopeTrailer.decode(Self.sample(bodyLength: length).encoded[...])
            }
        }
    }

    @Test func randomMutationsNeverTrapAndValidOnesRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        let original = Self.sample().encoded
        for _ in 0..<5_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) {
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            }
            if let decoded = try? EnvelopeTrailer.decode(bytes[...]) {
                #expect(decoded.encoded == bytes)
            }
        }
    }
}
