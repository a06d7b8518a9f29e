import Foundation
import Synchronization

/// How often a vendor may claim one transfer. Each claim and each release
/// is an entry of the append-only log, so a recipient opening and closing
/// its download in a loop (≈ 860 entries a second, measured on a debug
/// build) must be slowed down. Generous for real clients, which open a
/// download once, or a few times to resume or over several connections.
/// Kept per process: behind sshd each session counts on its own.
final class ClaimBudget: Sendable {
    static let claimsPerWindow = 20
    static let window: TimeInterval = 60
    /// (vendor, transfer) pairs tracked at once: beyond it, closed windows
    /// are dropped, and if none has closed a claim is admitted untracked.
    static let maximumTracked = 4096

    private struct Window {
        let start: Date
        var count: Int
    }

    private let windows = Mutex([String: Window]())

    /// True if `vendor` may claim `transferID` once more at `now` (and counts
    /// it). Keyed by the vendor too: opening another vendor's id (refused
    /// by the store) never uses up the recipient's budget.
    func admit(vendor: String, transferID: String, now: Date) -> Bool {
        let key = vendor + "/" + transferID
        return windows.withLock { windows in
            if var current = windows[key], now.timeIntervalSince(current.start) < Self.window {
                guard current.count < Self.claimsPerWindow else { return false }
                current.count += 1
                windows[key] = current
                return true
            }
            if windows[key] == nil, windows.count >= Self.maximumTracked {
                windows = windows.filter { now.timeIntervalSince($0.value.start) < Self.window }
                guard windows.count < Self.maximumTracked else { return true }
            }
            windows[key] = Window(start: now, count: 1)
            return true
        }
    }
}
