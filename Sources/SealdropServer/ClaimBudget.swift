import Foundation
import Synchronization

/// How often a vendor may claim one transfer. Each claim and each release
/// is an entry of the append-only log, so a recipient opening and closing
/// its download in a loop (≈ 860 entries a second, measured on a debug
/// build) must be slowed down. Generous for real clients, which open a
/// download once, or a few times to resume or over several connections.
/// Kept per process: behind sshd each session counts on its own.
///
/// Only claims the store granted are counted (`count`), so opening ids
/// that do not exist, or that are not the vendor's, uses up nothing; and a
/// vendor whose table is full is refused, never admitted untracked.
final class ClaimBudget: Sendable {
    static let claimsPerWindow = 20
    static let window: TimeInterval = 60
    /// Transfers tracked at once per vendor: more than its inbox can hold
    /// pending in a minute from real senders. When the table is full, closed
    /// windows are dropped; if none has closed, a new transfer is refused.
    static let maximumTrackedPerVendor = 4096

    private struct Window {
        let start: Date
        var count: Int
    }

    /// Per vendor, per transfer id.
    private let windows = Mutex([String: [String: Window]]())

    /// True if `vendor` may claim `transferID` once more at `now`; counts
    /// nothing (`count` does, once the store granted the claim).
    func admits(vendor: String, transferID: String, now: Date) -> Bool {
        windows.withLock { windows in
            var mine = windows[vendor] ?? [:]
            if let current = mine[transferID], now.timeIntervalSince(current.start) < Self.window {
                return current.count < Self.claimsPerWindow
            }
            guard mine[transferID] == nil, mine.count >= Self.maximumTrackedPerVendor else { return true }
            mine = mine.filter { now.timeIntervalSince($0.value.start) < Self.window }
            windows[vendor] = mine
            return mine.count < Self.maximumTrackedPerVendor
        }
    }

    /// Counts one claim the store granted to `vendor` for `transferID`.
    /// Checked by `admits` first; a race between sessions of one vendor
    /// can overshoot by at most its concurrent sessions.
    func count(vendor: String, transferID: String, now: Date) {
        windows.withLock { windows in
            if var current = windows[vendor]?[transferID], now.timeIntervalSince(current.start) < Self.window {
                current.count += 1
                windows[vendor, default: [:]][transferID] = current
            } else {
                windows[vendor, default: [:]][transferID] = Window(start: now, count: 1)
            }
        }
    }
}
