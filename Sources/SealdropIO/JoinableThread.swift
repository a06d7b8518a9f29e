import Foundation

/// A plain POSIX thread that its owner joins.
///
/// A detached thread may still be tearing itself down after it signalled
/// that its work is done; if the process exits at that moment, the exit's
/// clean-up races the thread's (seen as a crash in `pthread_rwlock_wrlock`
/// after `sealdrop receive` had already printed its result). Joining
/// guarantees nothing of the thread runs once `join()` returns.
public final class JoinableThread: @unchecked Sendable {
    private final class Work {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    // Written once in init; read by join() on the owner's thread only.
    private var thread: pthread_t
    private var joined = false

    /// Starts `body` on a new thread; traps only if the system cannot make
    /// one (as Foundation's `Thread` does).
    public init(_ body: @escaping @Sendable () -> Void) {
        let work = Unmanaged.passRetained(Work(body)).toOpaque()
        var made = pthread_t()
        let status = pthread_create(
            &made, nil,
            { argument in
                Unmanaged<Work>.fromOpaque(argument!).takeRetainedValue().body()
                return nil
            }, work)
        guard status == 0 else { fatalError("cannot start a thread: \(String(cString: strerror(status)))") }
        thread = made
    }

    /// Waits until the thread has ended; later calls return at once.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    deinit {
        // Never leak a joinable thread's resources.
        if !joined { pthread_detach(thread) }
    }
}
