import Foundation

/// A bounded byte stream from one thread to another: a writer `put`s whole
/// arrays (kept as they are, not copied), a reader reads them as a
/// `ByteSource`. It lets a receiver decrypt the bytes it downloads while
/// the download goes on, instead of reading them back from disk.
///
/// Both sides are woken in batches: the reader only once `batch` bytes
/// wait (or the stream ended), the writer only once the reader emptied the
/// pipe. Waking a thread per 64 KiB block cost about as much CPU as the
/// hashing it fed; batches of 1 MiB make it rare. Memory is bounded by
/// about twice `capacity`: what waits here and what the reader took.
public final class BytePipe: ByteSource, @unchecked Sendable {
    public static let defaultCapacity = 4 << 20
    public static let defaultBatch = 1 << 20

    private let capacity: Int
    private let batch: Int
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queued: [[UInt8]] = []
    private var queuedBytes = 0
    private var ended = false
    private var failure: Error?
    private var abandoned = false
    private var readerWaits = false
    private var writerWaits = false
    // The reader's own: blocks taken and not yet read.
    private var taken: [[UInt8]] = []
    private var takenIndex = 0
    private var position = 0

    public init(capacity: Int = defaultCapacity, batch: Int = defaultBatch) {
        precondition(batch > 0 && capacity >= batch, "a pipe's batch fits in its capacity")
        self.capacity = capacity
        self.batch = batch
    }

    /// Appends `bytes`, waiting while the pipe is full. Returns false, and
    /// drops the bytes, once the reader has abandoned the stream.
    @discardableResult
    public func put(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return true }
        condition.lock()
        defer { condition.unlock() }
        precondition(!ended, "put after the end of a pipe")
        while queuedBytes >= capacity && !abandoned {
            writerWaits = true
            condition.wait()
        }
        writerWaits = false
        guard !abandoned else { return false }
        queued.append(bytes)
        queuedBytes += bytes.count
        if readerWaits && queuedBytes >= batch { condition.broadcast() }
        return true
    }

    /// Ends the stream: the reader reads what is queued, then 0.
    public func finish() {
        end(failure: nil)
    }

    /// Ends the stream with `error`: the reader reads what is queued, then
    /// gets the error instead of an end.
    public func fail(_ error: Error) {
        end(failure: error)
    }

    private func end(failure: Error?) {
        condition.lock()
        if !ended {
            ended = true
            self.failure = failure
        }
        condition.broadcast()
        condition.unlock()
    }

    /// The reader gives up: what is queued is dropped, and a writer waiting
    /// for room (or writing later) goes on without waiting.
    public func abandon() {
        condition.lock()
        abandoned = true
        queued = []
        queuedBytes = 0
        condition.broadcast()
        condition.unlock()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while takenIndex == taken.count || position == taken[takenIndex].count {
            if takenIndex < taken.count {
                takenIndex += 1
                position = 0
                continue
            }
            guard try takeQueued() else { return 0 }
        }
        let block = taken[takenIndex]
        let count = min(buffer.count, block.count - position)
        block.withUnsafeBytes { bytes in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)]))
        }
        position += count
        return count
    }

    /// Takes everything queued once a batch waits or the stream ended;
    /// false at the end.
    private func takeQueued() throws -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queuedBytes < batch && !ended && !abandoned {
            readerWaits = true
            condition.wait()
        }
        readerWaits = false
        if queued.isEmpty {
            if let failure { throw failure }
            return false
        }
        taken = queued
        queued = []
        queuedBytes = 0
        takenIndex = 0
        position = 0
        if writerWaits { condition.broadcast() }
        return true
    }
}
