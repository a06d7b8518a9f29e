import Foundation
import Testing
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import TestSupport

@Suite struct RoundTripTests {
    static let capacity = Vendors.capacity
    static let chunk = EnvelopeFormat.chunkSize

    @Test(arguments: [0, 1, capacity - 1, capacity, capacity + 1, chunk - 1, chunk, chunk + 1, 3 * capacity + 5])
    func roundTrips(size: Int) throws {
        let vendors = Vendors()
        let plaintext = Fixtures.bytes(size, seed: UInt64(size) + 1)
        let envelope = try vendors.seal(plaintext, name: "extract.sql.gz", note: "size \(size)")
        #expect(EnvelopeFormat.isConsistentLength(UInt64(envelope.count)))
        let (opened, result) = try vendors.open(envelope)
        #expect(opened == plaintext)
        #expect(result.plaintextSize == UInt64(size))
        #expect(result.description.fileName == "extract.sql.gz")
        #expect(result.description.note == "size \(size)")
    }

    @Test func roundTripsTwentyMebibytesThroughFilesWithUnevenReads() throws {
        let vendors = Vendors()
        let directory = try TemporaryDirectory()
        let plaintext = Fixtures.bytes(20 * 1024 * 1024 + 333, seed: 42)
        let inputPath = try directory.write(plaintext, to: "input.bin")

        var input = try FileDescriptor.openForReading(inputPath)
        var envelopeFile = try AtomicOutputFile(destination: directory.file("input.sealdrop"), mode: 0o644)
        let now = Date()
        let sealed = try EnvelopeSealer.seal(
            from: &input, to: &envelopeFile, sender: vendors.sender,
            request: SealRequest(
                recipient: vendors.recipient.publicKey, description: try FileDescription(fileName: "input.bin"),
                created: now, expires: now.addingTimeInterval(60))
        )
        try envelopeFile.commit()
        #expect(sealed.plaintextSize == UInt64(plaintext.count))

        var source = TricklingSource(try directory.read("input.sealdrop"))
        var output = try AtomicOutputFile(destination: directory.file("output.bin"))
        let opened = try EnvelopeOpener.open(from: &source, to: &output, recipient: vendors.recipient, expectedSender: vendors.sender.publicKey)
        try output.commit()
        #expect(opened.plaintextSize == UInt64(plaintext.count))
        #expect(try directory.read("output.bin") == plaintext)
        #expect(try directory.entries() == ["input.bin", "input.sealdrop", "output.bin"])
    }

    @Test func ciphertextSizeRevealsOnlyTheChunkCount() throws {
        let vendors = Vendors()
        let small = try vendors.seal(Fixtures.bytes(1), name: "a")
        let larger = try vendors.seal(Fixtures.bytes(60_000), name: "a much longer name for the same size")
        #expect(small.count == larger.count)
    }

    @Test func everyEnvelopeIsFresh() throws {
        let vendors = Vendors()
        let first = try vendors.seal([1, 2, 3])
        let second = try vendors.seal([1, 2, 3])
        #expect(first != second)
        #expect(first[14..<30] != second[14..<30], "transfer ids differ")
    }
}
