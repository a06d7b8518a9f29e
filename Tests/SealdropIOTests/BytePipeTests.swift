import Foundation
import SealdropIO
import Testing

/// The pipe a receiver decrypts from while it downloads: every byte in
/// order across threads, the writer's failure passed on, a reader that
/// gives up never leaving the writer blocked.
@Suite struct BytePipeTests {
    /// Reads the whole pipe in pieces of `piece` bytes.
    static func drain(_ pipe: BytePipe, piece: Int) throws -> [UInt8] {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: piece)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try pipe.read(into: $0) }
            if count == 0 { return all }
            all += buffer[0..<count]
        }
    }

    @Test(arguments: [1, 1000, 65_536, 300_000])
    func everyByteArrivesInOrderAcrossThreads(piece: Int) throws {
        // Small capacity and batch, so the writer waits for the reader many times.
        let pipe = BytePipe(capacity: 200_000, batch: 50_000)
        let blocks = (0..<64).map { index in [UInt8]((0..<(1 + index * 997)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }) }
        let writer = Thread {
            for block in blocks { pipe.put(block) }
            pipe.finish()
        }
        writer.start()
        #expect(try Self.drain(pipe, piece: piece) == blocks.flatMap { $0 })
    }

    @Test func theWritersFailureReachesTheReaderAfterTheBytesBeforeIt() throws {
        let pipe = BytePipe(capacity: 1 << 20, batch: 1 << 10)
        pipe.put([1, 2, 3])
        pipe.fail(IOError("read", path: "the network", errno: ECONNRESET))
        var buffer = [UInt8](repeating: 0, count: 10)
        #expect(try buffer.withUnsafeMutableBytes { try pipe.read(into: $0) } == 3)
        #expect(buffer.prefix(3) == [1, 2, 3])
        #expect(throws: IOError.self) { try buffer.withUnsafeMutableBytes { try pipe.read(into: $0) } }
    }

    @Test func anEndBeforeABatchIsReadAtOnce() throws {
        let pipe = BytePipe(capacity: 1 << 20, batch: 1 << 19)
        pipe.put([9, 8])
        pipe.finish()
        #expect(try Self.drain(pipe, piece: 7) == [9, 8])
    }

    /// A writer blocked on a full pipe is released when the reader gives
    /// up (else this test never ends), and later puts are dropped at once.
    @Test func aReaderThatGivesUpReleasesABlockedWriter() throws {
        let pipe = BytePipe(capacity: 1000, batch: 1000)
        let finished = DispatchSemaphore(value: 0)
        let results = ResultBox()
        let writer = Thread {
            for _ in 0..<10 { results.append(pipe.put([UInt8](repeating: 1, count: 1000))) }
            finished.signal()
        }
        writer.start()
        pipe.abandon()
        finished.wait()
        #expect(results.values.count == 10)
        #expect(results.values.last == false, "puts after the reader left are dropped")
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Bool] = []
    func append(_ value: Bool) { lock.withLock { stored.append(value) } }
    var values: [Bool] { lock.withLock { stored } }
}
