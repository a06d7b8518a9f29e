import Foundation
import Testing
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import TestSupport

/// Each attack on an envelope is refused with its own error, and leaves
/// nothing in the output directory.
@Suite struct TamperingTests {
    static let header = EnvelopeFormat.signedHeaderLength
    static let chunk = EnvelopeFormat.sealedChunkSize

    let vendors = Vendors()
    let envelope: [UInt8]

    init() throws {
        // Header, description, 3 data chunks (2 full + final with 5 bytes), trailer.
        envelope = try vendors.seal(Fixtures.bytes(2 * Vendors.capacity + 5), name: "lab.sql")
        #expect(envelope.count == Self.header + 4 * Self.chunk + EnvelopeFormat.trailerLength)
    }

    static func chunkStart(_ index: Int) -> Int { header + index * chunk }

    func expectRefused(
        _ bytes: [UInt8], _ code: EnvelopeError.Code, as opener: VendorIdentity? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let directory = try TemporaryDirectory()
        do {
            _ = try vendors.openToFile(bytes, in: directory, as: opener)
            Issue.record("opened despite \(code)", sourceLocation: sourceLocation)
        } catch let error as EnvelopeError {
            #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        }
        #expect(try directory.entries() == [], "a failed open leaves nothing behind", sourceLocation: sourceLocation)
    }

    func edited(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = envelope
        edit(&copy)
        return copy
    }

    @Test func untouchedEnvelopeOpens() throws {
        let directory = try TemporaryDirectory()
        _ = try vendors.openToFile(envelope, in: directory)
        #expect(try directory.entries() == ["out.bin"])
    }

    @Test func wrongMagic() throws { try expectRefused(edited { $0[3] = 0 }, .badMagic) }
    @Test func unknownVersion() throws { try expectRefused(edited { $0[9] = 9 }, .unsupportedVersion) }
    @Test func emptyFile() throws { try expectRefused([], .emptyInput) }
    @Test func headerLengthPastTheEnd() throws {
        try expectRefused(Array(edited { $0.replaceSubrange(10..<14, with: [0, 0, 0x0f, 0xff]) }.prefix(500)), .truncatedHeader)
    }
    @Test func headerLengthBeyondLimit() throws {
        try expectRefused(edited { $0.replaceSubrange(10..<14, with: [0x7f, 0, 0, 0]) }, .headerTooLarge)
    }
    @Test func signatureChanged() throws { try expectRefused(edited { $0[Self.header - 10] ^= 4 }, .badSignature) }
    @Test func wrongSenderKey() throws {
        try expectRefused(try vendors.seal([1, 2, 3], from: vendors.stranger), .senderMismatch)
    }
    @Test func wrongRecipientKey() throws { try expectRefused(envelope, .wrongRecipient, as: vendors.stranger) }
    @Test func ciphertextByteChanged() throws {
        try expectRefused(edited { $0[Self.chunkStart(2) + 4321] ^= 0x10 }, .chunkAuthenticationFailed)
    }
    @Test func chunksSwapped() throws {
        try expectRefused(
            edited {
                let one = Array($0[Self.chunkStart(1)..<Self.chunkStart(2)])
                $0.replaceSubrange(Self.chunkStart(1)..<Self.chunkStart(2), with: $0[Self.chunkStart(2)..<Self.chunkStart(3)])
                $0.replaceSubrange(Self.chunkStart(2)..<Self.chunkStart(3), with: one)
            }, .chunkAuthenticationFailed)
    }
    @Test func chunkDropped() throws {
        try expectRefused(edited { $0.removeSubrange(Self.chunkStart(2)..<Self.chunkStart(3)) }, .chunkAuthenticationFailed)
    }
    @Test func finalChunkMissing() throws {
        try expectRefused(Array(envelope.prefix(Self.chunkStart(3))), .truncatedStream)
    }
    @Test(arguments: [1, 17, Self.chunk / 2, Self.chunk - 1])
    func truncatedBetweenBoundaries(cut: Int) throws {
        try expectRefused(Array(envelope.prefix(Self.chunkStart(2) + cut)), .truncatedStream)
    }
    @Test(arguments: [0, 1, 2, 3])
    func truncatedAtEveryBoundary(chunks: Int) throws {
        try expectRefused(Array(envelope.prefix(Self.chunkStart(chunks))), .truncatedStream)
    }
    @Test func trailerMissing() throws {
        try expectRefused(Array(envelope.prefix(Self.chunkStart(4))), .trailerMissing)
    }
    @Test func bytesAppendedAfterTrailer() throws { try expectRefused(envelope + [0x00], .trailingData) }
    @Test func headerFromAnotherEnvelope() throws {
        let other = try vendors.seal(Fixtures.bytes(2 * Vendors.capacity + 5), name: "lab.sql")
        try expectRefused(Array(other.prefix(Self.header)) + envelope.dropFirst(Self.header), .chunkAuthenticationFailed)
    }

    @Test func everySingleHeaderByteChangeIsRefused() throws {
        for offset in 0..<Self.header {
            var bytes = Array(envelope.prefix(Self.chunkStart(2)))
            bytes[offset] ^= 0x01
            var source = MemorySource(bytes)
            var sink = MemorySink()
            #expect(throws: EnvelopeError.self, "byte \(offset)") {
                try EnvelopeOpener.open(from: &source, to: &sink, recipient: vendors.recipient, expectedSender: vendors.sender.publicKey)
            }
        }
    }

    @Test func failuresReleaseNoPlaintextThroughTheCommandLineContract() throws {
        // The sink sees data before FINAL, so the file must stay out of sight:
        // it has no name until it is committed.
        let directory = try TemporaryDirectory()
        let truncated = Array(envelope.prefix(Self.chunkStart(3)))
        var source = MemorySource(truncated)
        var sink = try AtomicOutputFile(destination: directory.file("out.bin"))
        #expect(try directory.entries() == [])
        #expect(throws: EnvelopeError.self) {
            try EnvelopeOpener.open(from: &source, to: &sink, recipient: vendors.recipient, expectedSender: vendors.sender.publicKey)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("out.bin")))
    }
}
