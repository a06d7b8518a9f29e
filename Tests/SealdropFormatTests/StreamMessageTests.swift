import Testing
@testable import SealdropFormat

@Suite struct StreamMessageTests {
    static let capacity = EnvelopeFormat.chunkDataCapacity

    func message(length: Int, offset: UInt64) -> [UInt8] {
        var message = [UInt8](repeating: 0xee, count: EnvelopeFormat.chunkSize)
        StreamMessage.writeFraming(into: &message, dataLength: length, offset: offset)
        return message
    }

    @Test func framingIsLengthOffsetAndZeroPadding() {
        let framed = message(length: 3, offset: 0x0102)
        #expect(Array(framed[0..<12]) == [0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0x01, 0x02])
        #expect(Array(framed[12..<15]) == [0xee, 0xee, 0xee])
        #expect(framed[15...].allSatisfy { $0 == 0 })
    }

    @Test func acceptsFullChunksAndAShortFinal() throws {
        #expect(try StreamMessage.dataRange(in: message(length: Self.capacity, offset: 0), index: 1, expectedOffset: 0, isFinal: false) == 12..<65_536)
        #expect(try StreamMessage.dataRange(in: message(length: 0, offset: 9), index: 2, expectedOffset: 9, isFinal: true) == 12..<12)
    }

    @Test func refusesShortNonFinalChunk() {
        #expect(throws: EnvelopeError(.malformedChunk, "")) {
            try StreamMessage.dataRange(in: message(length: 10, offset: 0), index: 1, expectedOffset: 0, isFinal: false)
        }
    }

    @Test func refusesWrongOffsetAndDirtyPadding() {
        #expect(throws: EnvelopeError(.malformedChunk, "")) {
            try StreamMessage.dataRange(in: message(length: 10, offset: 5), index: 1, expectedOffset: 0, isFinal: true)
        }
        var dirty = message(length: 10, offset: 0)
        dirty[100] = 1
        #expect(throws: EnvelopeError(.malformedChunk, "")) {
            try StreamMessage.dataRange(in: dirty, index: 1, expectedOffset: 0, isFinal: true)
        }
    }

    @Test func refusesLengthBeyondCapacity() {
        var framed = message(length: 0, offset: 0)
        framed.replaceSubrange(0..<4, with: [0xff, 0xff, 0xff, 0xff])
        #expect(throws: EnvelopeError(.malformedChunk, "")) {
            try StreamMessage.dataRange(in: framed, index: 1, expectedOffset: 0, isFinal: true)
        }
    }
}

@Suite struct FileDescriptionTests {
    @Test func roundTrips() throws {
        let description = try FileDescription(fileName: "extract-2026.sql.gz", note: "Two lines.\nSecond line; é ü")
        let encoded = description.encode()
        #expect(encoded.count == EnvelopeFormat.chunkSize)
        #expect(try FileDescription.decode(encoded) == description)
    }

    @Test(arguments: [
        "../etc/passwd", "a/b", ".", "..", "bell\u{7}", "tab\tname", String(repeating: "x", count: 256),
        "rep\u{202E}lqs.exe", "zero\u{200B}width", "line\u{2028}break",
    ])
    func refusesUnsafeNames(_ name: String) {
        #expect(throws: EnvelopeError(.malformedMetadata, "")) { try FileDescription(fileName: name) }
    }

    @Test func refusesLongNoteAndControlCharacters() {
        #expect(throws: EnvelopeError(.malformedMetadata, "")) {
            try FileDescription(fileName: "x", note: String(repeating: "n", count: 1025))
        }
        #expect(throws: EnvelopeError(.malformedMetadata, "")) {
            try FileDescription(fileName: "x", note: "escape \u{1b}[2J")
        }
        #expect(throws: EnvelopeError(.malformedMetadata, "")) {
            try FileDescription(fileName: "x", note: "right-to-left \u{202E} override")
        }
    }

    @Test func refusesLengthsPastTheEndAndDirtyPadding() {
        var message = [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize)
        message[0] = 0xff
        message[1] = 0xff
        #expect(throws: EnvelopeError(.malformedMetadata, "")) { try FileDescription.decode(message) }
        var padded = try! FileDescription(fileName: "x").encode()
        padded[padded.count - 1] = 1
        #expect(throws: EnvelopeError(.malformedMetadata, "")) { try FileDescription.decode(padded) }
    }
}
