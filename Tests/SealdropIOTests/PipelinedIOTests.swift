import Foundation
import Testing
import SealdropIO
import TestSupport

/// A sink that fails once it has taken `limit` bytes, like a full disk.
final class FailingSink: ByteSink {
    let limit: Int
    private(set) var received = 0

    init(limit: Int) {
        self.limit = limit
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard received + bytes.count <= limit else { throw IOError("write", path: "test sink", errno: ENOSPC) }
        received += bytes.count
    }
}

/// A sink whose first write waits for `gate`.
final class GatedSink: ByteSink, @unchecked Sendable {
    let gate = DispatchSemaphore(value: 0)
    private(set) var received = 0
    private var first = true

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if first {
            first = false
            gate.wait()
        }
        received += bytes.count
    }
}

final class SourceBox: ByteSource {
    var inner: MemorySource
    init(_ bytes: [UInt8]) { inner = MemorySource(bytes) }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try inner.read(into: buffer) }
}

final class SinkBox: ByteSink {
    var inner = MemorySink()
    func write(_ bytes: UnsafeRawBufferPointer) throws { try inner.write(bytes) }
}

@Suite struct PipelinedIOTests {
    @Test(arguments: [0, 1, 1000, 4096, 4097, 100_000])
    func readAheadDeliversEveryByteInOrder(size: Int) throws {
        let bytes = Fixtures.bytes(size, seed: UInt64(size) + 3)
        let source = ReadAheadSource(SourceBox(bytes), blockSize: 4096, depth: 2)
        var collected = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 777)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if count == 0 { break }
            collected += buffer[0..<count]
        }
        #expect(collected == bytes)
        #expect(try buffer.withUnsafeMutableBytes { try source.read(into: $0) } == 0, "end stays the end")
    }

    @Test(arguments: [0, 1, 4096, 10_001])
    func writeBehindWritesEverythingOnFinish(size: Int) throws {
        let bytes = Fixtures.bytes(size, seed: 5)
        let target = SinkBox()
        var sink = WriteBehindSink(target, blockSize: 4096, depth: 2)
        for piece in stride(from: 0, to: bytes.count, by: 999) {
            try sink.write(Array(bytes[piece..<min(piece + 999, bytes.count)]))
        }
        try sink.finish()
        #expect(target.inner.bytes == bytes)
    }

    @Test func writeBehindReportsTheFirstWriteError() throws {
        let target = FailingSink(limit: 10_000)
        var sink = WriteBehindSink(target, blockSize: 4096, depth: 2)
        #expect(throws: IOError.self) {
            for _ in 0..<100 { try sink.write(Fixtures.bytes(1000)) }
            try sink.finish()
        }
    }

    @Test func anAbandonedSinkWritesNothingMore() throws {
        // The first block is held in the writer until the sink has been
        // abandoned; the blocks queued behind it must then be dropped.
        let target = GatedSink()
        do {
            var sink = WriteBehindSink(target, blockSize: 4096, depth: 8)
            try sink.write(Fixtures.bytes(4096 * 6))
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { target.gate.signal() }
        }
        #expect(target.received <= 4096, "at most the block already being written; the queued ones are dropped")
    }
}

@Suite struct AtomicOutputFileTests {
    @Test func appearsOnlyOnCommitWithTheRequestedMode() throws {
        let directory = try TemporaryDirectory()
        let destination = directory.file("report.csv")
        var file = try AtomicOutputFile(destination: destination, mode: 0o640)
        try file.write([1, 2, 3])
        #expect(!FileManager.default.fileExists(atPath: destination))
        #expect(try directory.entries() == [], "the file being written has no name")
        try file.commit()
        #expect(try directory.read("report.csv") == [1, 2, 3])
        #expect(try directory.entries() == ["report.csv"])
        let mode = try FileManager.default.attributesOfItem(atPath: destination)[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }

    @Test func releasedWithoutCommitLeavesNothing() throws {
        let directory = try TemporaryDirectory()
        do {
            var file = try AtomicOutputFile(destination: directory.file("out"))
            try file.write(Fixtures.bytes(10_000))
        }
        #expect(try directory.entries() == [])
    }

    @Test func neverClobbersWithoutOverwrite() throws {
        let directory = try TemporaryDirectory()
        _ = try directory.write([9], to: "out")
        #expect(throws: IOError.self) { try AtomicOutputFile(destination: directory.file("out")) }
        let early = try AtomicOutputFile(destination: directory.file("late"))
        _ = try directory.write([7], to: "late")
        #expect(throws: IOError.self) { try early.commit() }
        #expect(try directory.read("late") == [7])
        let replacing = try AtomicOutputFile(destination: directory.file("out"), overwrite: true)
        try replacing.commit()
        #expect(try directory.read("out") == [])
    }

    @Test func spoolFileHasNoName() throws {
        let directory = try TemporaryDirectory()
        var spool = try SpoolFile(directory: directory.path)
        try spool.write([1, 2, 3, 4])
        #expect(try directory.entries() == [])
        try spool.rewind()
        var buffer = [UInt8](repeating: 0, count: 8)
        let count = try buffer.withUnsafeMutableBytes { try spool.read(into: $0) }
        #expect(Array(buffer[0..<count]) == [1, 2, 3, 4])
    }
}
