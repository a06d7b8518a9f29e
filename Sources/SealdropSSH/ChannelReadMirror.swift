/// A copy of the channel bytes libssh holds and the reader has not taken
/// yet. libssh 0.10 refuses every read once the session is in error (the
/// client's DISCONNECT, a closed socket), even of data it received before
/// that: a request sent just before the client hung up (lftp's last CLOSE)
/// would be lost. The channel data callback sees libssh's whole unread
/// buffer after each data packet; this keeps a copy of it, so the bytes can
/// still be handed over when libssh will not.
///
/// The callback takes nothing from libssh: libssh keeps its buffer, its
/// window (and so the client's back-pressure) and its blocking reads as
/// they were. The copy is as large as libssh's buffer, which its window
/// bounds (≈ 1.3 MB).
struct ChannelReadMirror {
    private var storage: [UInt8] = []
    private var head = 0
    /// Set when libssh's buffer and the copy disagree; the copy is then
    /// never served (a lost request fails safe, a wrong byte would not).
    private(set) var isBroken = false

    /// Unread bytes in the copy.
    var count: Int { storage.count - head }

    /// libssh's unread buffer after a data packet arrived: `unread` starts
    /// with the bytes already copied, the rest are new.
    mutating func saw(_ unread: UnsafeRawBufferPointer) {
        guard !isBroken else { return }
        guard unread.count >= count else {
            // libssh's buffer only grows between reads; a shorter one means
            // bytes left it in a way this copy did not see.
            isBroken = true
            return
        }
        compactIfWorthIt()
        storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: unread[count...]))
    }

    /// The reader took `taken` bytes from libssh.
    mutating func consumed(_ taken: Int) {
        guard !isBroken else { return }
        guard taken <= count else {
            isBroken = true
            return
        }
        head += taken
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
    }

    /// Moves up to `destination.count` of the oldest bytes out (once libssh
    /// no longer hands them over); returns how many.
    mutating func take(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let moved = min(destination.count, count)
        guard !isBroken, moved > 0 else { return 0 }
        storage.withUnsafeBytes { source in
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[head..<(head + moved)]))
        }
        consumed(moved)
        return moved
    }

    /// Drops the consumed front once it outweighs the unread rest, so each
    /// byte is moved a bounded number of times.
    private mutating func compactIfWorthIt() {
        guard head > 0, head >= count else { return }
        storage.removeFirst(head)
        head = 0
    }
}
