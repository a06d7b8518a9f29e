#if canImport(Glibc)
    import Glibc
#endif
import Synchronization

/// Deletes registered temporary files when the process is interrupted
/// (SIGINT, SIGTERM, SIGHUP, SIGQUIT), so Ctrl-C in the middle of a
/// decryption does not leave unverified plaintext behind. Only the named
/// fallback of `AtomicOutputFile` needs it (its files are mode 0600 and
/// named `.sealdrop.XXXXXX.partial`); SIGKILL cannot be caught.
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

    // A terminal whose settings must come back if we are interrupted while
    // echo is off (a passphrase prompt). tcsetattr is async-signal-safe.
    nonisolated(unsafe) private static var terminalFD: Int32 = -1
    nonisolated(unsafe) private static var terminalSettings = termios()

    /// Restores `settings` on `fd` if a signal arrives before `releaseTerminal()`.
    public static func protectTerminal(_ fd: Int32, restoring settings: termios) {
        lock.withLock { _ in
            terminalSettings = settings
            terminalFD = fd
        }
    }

    public static func releaseTerminal() {
        lock.withLock { _ in terminalFD = -1 }
    }

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
            for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&mask, signalNumber) }
            pthread_sigmask(SIG_UNBLOCK, &mask, nil)
            for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
                signal(signalNumber) { received in
                    for index in 0..<InterruptCleanup.slotCount {
                        if let path = InterruptCleanup.slots[index] { unlink(path) }
                    }
                    if InterruptCleanup.terminalFD >= 0 {
                        _ = tcsetattr(InterruptCleanup.terminalFD, TCSAFLUSH, &InterruptCleanup.terminalSettings)
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
