import Foundation
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import TestSupport

/// Two vendors and helpers to seal and open in memory or through files.
struct Vendors {
    let sender = VendorIdentity.generate(comment: "oldvendor")
    let recipient = VendorIdentity.generate(comment: "newvendor")
    let stranger = VendorIdentity.generate(comment: "stranger")

    static let capacity = EnvelopeFormat.chunkDataCapacity

    func seal(_ plaintext: [UInt8], name: String = "extract.sql", note: String = "", to: VendorIdentity? = nil, from: VendorIdentity? = nil) throws -> [UInt8] {
        var source = MemorySource(plaintext)
        var sink = MemorySink()
        let now = Date()
        _ = try EnvelopeSealer.seal(
            from: &source, to: &sink, sender: from ?? sender,
            request: SealRequest(
                recipient: (to ?? recipient).publicKey,
                description: try FileDescription(fileName: name, note: note),
                created: now, expires: now.addingTimeInterval(3600)
            )
        )
        return sink.bytes
    }

    func open(_ envelope: [UInt8], as opener: VendorIdentity? = nil, expecting: VendorIdentity? = nil) throws -> ([UInt8], OpenResult) {
        var source = MemorySource(envelope)
        var sink = MemorySink()
        let result = try EnvelopeOpener.open(
            from: &source, to: &sink, recipient: opener ?? recipient, expectedSender: (expecting ?? sender).publicKey
        )
        return (sink.bytes, result)
    }

    /// Opens through an `AtomicOutputFile`, as the command line does, and
    /// reports the directory's contents afterwards.
    func openToFile(_ envelope: [UInt8], in directory: TemporaryDirectory, as opener: VendorIdentity? = nil) throws -> OpenResult {
        var source = MemorySource(envelope)
        var sink = try AtomicOutputFile(destination: directory.file("out.bin"))
        let result = try EnvelopeOpener.open(from: &source, to: &sink, recipient: opener ?? recipient, expectedSender: sender.publicKey)
        try sink.commit()
        return result
    }
}

/// A source that hands out bytes in small, uneven pieces, like a pipe.
struct TricklingSource: ByteSource {
    var inner: MemorySource
    var step = 0

    init(_ bytes: [UInt8]) {
        inner = MemorySource(bytes)
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        step = (step * 31 + 7) % 1021
        let count = min(buffer.count, step + 1)
        return try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
    }
}
