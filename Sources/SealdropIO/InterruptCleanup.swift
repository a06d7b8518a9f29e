#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Deletes registered temporary files when the process is interrupted
/// (SIGINT, SIGTERM, SIGHUP), so Ctrl-C in the middle of a decryption does
/// not leave unverified plaintext behind. SIGKILL cannot be caught; the
/// temporary files are mode 0600 and named `.NAME.XXXXXX.partial`.
public enum InterruptCleanup {
    /// Enough for the files one command writes at a time.
    static let slotCount = 16

    // The handler reads these slots without locking (locks are not
    // async-signal-safe); writers serialise on `lock`. A race can at worst
    // skip one cleanup, never touch freed memory: paths are never freed.
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: slotCount)
        slots.initialize(repeating: nil, count: slotCount)
        return slots
    }()
    private static let lock = Mutex(false)

    /// Installs the signal handlers once; later calls do nothing.
    public static func installHandlers() {
        lock.withLock { installed in
            guard !installed else { return }
            installed = true
            _ = slots
            // A parent may have started us with these signals blocked (they are
            // inherited); unblock them here, before any thread exists, so
            // every later thread inherits the unblocked mask.
            var mask = sigset_t()
            sigemptyset(&mask)
            for signalNumber in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&mask, signalNumber) }
            pthread_sigmask(SIG_UNBLOCK, &mask, nil)
            for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
                signal(signalNumber) { received in
                    for index in 0..<InterruptCleanup.slotCount {
                        if let path = InterruptCleanup.slots[index] { unlink(path) }
                    }
                    signal(received, SIG_DFL)
                    raise(received)
                }
            }
        }
    }

    static func register(_ path: String) -> Int? {
        lock.withLock { _ in
            for index in 0..<slotCount where slots[index] == nil {
                slots[index] = strdup(path)
                return index
            }
            return nil
        }
    }

    static func unregister(_ slot: Int?) {
        guard let slot else { return }
        // The path string is deliberately not freed: the handler may be
        // reading it at this moment. A few bytes per output file is the price.
        lock.withLock { _ in slots[slot] = nil }
    }
}
