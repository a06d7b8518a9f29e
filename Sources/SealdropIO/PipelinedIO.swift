import Foundation

/// Reads a source on a background thread, a few blocks ahead of the
/// consumer, so that reading overlaps with the consumer's work (encryption).
///
/// Memory is bounded by `depth` blocks of `blockSize` bytes. The inner source
/// is handed over: only the background thread touches it afterwards.
public final class ReadAheadSource: ByteSource {
    /// Big enough to amortise thread hand-offs, small enough to keep memory
    /// low: with 128 KiB, waking the other thread (futex, context switch)
    /// cost a receive about as much CPU as its SHA-256; 1 MiB blocks make
    /// it 8 times rarer for at most (depth + 1) MiB per pipeline.
    public static let defaultBlockSize = 1 << 20
    public static let defaultDepth = 2

    private let filled: BlockQueue
    private let reader: JoinableThread
    private var current = BlockQueue.Block(bytes: [], count: 0)
    private var position = 0
    private var finished = false

    public init(_ inner: some ByteSource & AnyObject, blockSize: Int = defaultBlockSize, depth: Int = defaultDepth) {
        let filled = BlockQueue(capacity: depth)
        self.filled = filled
        nonisolated(unsafe) var source = inner
        reader = JoinableThread {
            while true {
                var block = BlockQueue.Block(bytes: uninitializedBlock(blockSize), count: 0)
                do {
                    block.count = try block.bytes.withUnsafeMutableBytes { try source.readFully(into: $0) }
                } catch {
                    block.failure = error
                }
                let last = block.count < blockSize || block.failure != nil
                if !filled.put(block) || last { break }
            }
            filled.close()
        }
    }

    deinit {
        // Unblocks the reader thread if it waits for room; it ends after its
        // current read returns.
        filled.close()
        reader.join()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while position == current.count {
            if let failure = current.failure { throw failure }
            guard !finished, let next = filled.take() else {
                finished = true
                return 0
            }
            current = next
            position = 0
            if next.count == 0, next.failure == nil { finished = true }
        }
        let count = min(buffer.count, current.count - position)
        current.bytes.withUnsafeBytes { block in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: block[position..<(position + count)]))
        }
        position += count
        return count
    }
}

/// Writes to a sink on a background thread, so that writing overlaps with
/// the producer's work. `finish()` must be called to flush and to learn of
/// any write error; until then an error surfaces on a later `write`.
public final class WriteBehindSink: ByteSink {
    private let queue: BlockQueue
    private let writer: JoinableThread
    private let failure = FailureBox()
    private let blockSize: Int
    private var block: [UInt8]
    private var count = 0
    private var finished = false

    public init(_ inner: some ByteSink & AnyObject, blockSize: Int = ReadAheadSource.defaultBlockSize, depth: Int = ReadAheadSource.defaultDepth) {
        let queue = BlockQueue(capacity: depth)
        self.queue = queue
        self.blockSize = blockSize
        block = uninitializedBlock(blockSize)
        // Optional so the thread can let go of the sink before it signals:
        // an AtomicOutputFile must be released (and its temporary file
        // removed) before the process may exit.
        nonisolated(unsafe) var sink: (any ByteSink & AnyObject)? = inner
        let failure = failure
        writer = JoinableThread {
            while let next = queue.take() {
                guard failure.error == nil else { continue }
                do {
                    try next.bytes.withUnsafeBytes { try sink?.write(UnsafeRawBufferPointer(rebasing: $0[0..<next.count])) }
                } catch {
                    failure.error = error
                }
            }
            sink = nil
        }
    }

    deinit {
        if !finished {
            // Abandoned (the producer failed): drop what is still queued
            // rather than write it, then wait for the thread to let go.
            failure.error = CancellationError()
            queue.close()
            writer.join()
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "write after finish")
        if let error = failure.error { throw error }
        var offset = 0
        while offset < bytes.count {
            let take = min(blockSize - count, bytes.count - offset)
            block.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[count..<(count + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            }
            count += take
            offset += take
            if count == blockSize { flushBlock() }
        }
    }

    /// Writes what is buffered, waits for the background thread, and throws
    /// the first write error if there was one.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        if count > 0 { flushBlock() }
        queue.close()
        writer.join()
        if let error = failure.error { throw error }
    }

    private func flushBlock() {
        queue.put(BlockQueue.Block(bytes: block, count: count))
        block = uninitializedBlock(blockSize)
        count = 0
    }
}

/// A block whose bytes are written before they are read, so zero-filling
/// it first would only cost time.
private func uninitializedBlock(_ size: Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: size) { _, initialized in initialized = size }
}

/// The first error of the writer thread, read by the producer.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?

    var error: Error? {
        get { lock.withLock { stored } }
        set { lock.withLock { if stored == nil { stored = newValue } } }
    }
}
