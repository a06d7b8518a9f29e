import Foundation

/// SIGTERM and SIGINT stop `sealdropd serve`. They are blocked in every
/// thread (the mask is set on the main thread before any other thread
/// exists, and threads inherit it) and taken synchronously by `sigwait` on
/// the main thread. A `DispatchSource` after `signal(SIG_IGN)` was seen to
/// miss them on Linux (a signal delivered to a thread that has it unblocked
/// is simply ignored); blocking everywhere leaves the kernel one place to
/// put it. This needs no extra package and suits a server built on plain
/// threads (swift-service-lifecycle would bring an async runtime for this alone).
enum StopSignals {
    static let numbers = [SIGTERM, SIGINT]

    private static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in numbers { sigaddset(&set, number) }
        return set
    }

    /// On the main thread, before any other thread starts.
    static func block() {
        var set = set
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// For the commands that stop the default way (the main thread, with
    /// the default action, then takes the signal).
    static func unblock() {
        var set = set
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Waits for SIGTERM or SIGINT; returns which.
    static func wait() -> Int32 {
        var set = set
        var number: Int32 = 0
        while sigwait(&set, &number) != 0 {}
        return number
    }

    static func name(_ number: Int32) -> String {
        number == SIGTERM ? "SIGTERM" : number == SIGINT ? "SIGINT" : "signal \(number)"
    }
}
