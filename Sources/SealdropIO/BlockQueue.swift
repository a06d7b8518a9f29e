import Foundation

/// A bounded hand-off of byte blocks between two threads. The bound is what
/// keeps pipelined I/O at constant memory: a fast producer waits for the
/// consumer instead of buffering the whole file.
final class BlockQueue: @unchecked Sendable {
    /// A block and how many of its bytes are valid; `failure` ends the stream.
    struct Block {
        var bytes: [UInt8]
        var count: Int
        var failure: Error?
    }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var items: [Block] = []
    private let capacity: Int
    private var closed = false

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Waits for room, then appends; returns false if the queue was closed.
    @discardableResult
    func put(_ block: Block) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(block)
        condition.broadcast()
        return true
    }

    /// Waits for a block; nil once the queue is closed and empty.
    func take() -> Block? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !items.isEmpty else { return nil }
        let block = items.removeFirst()
        condition.broadcast()
        return block
    }

    /// Wakes every waiter; later `put`s are refused, queued blocks can still be taken.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
