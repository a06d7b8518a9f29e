import Foundation
import Synchronization

/// How often a vendor may claim one transfer. Each claim and each release
/// is an entry of the append-only log, so a recipient opening and closing
/// its download in a loop (≈ 860 entries a second, measured on a debug
/// build) must be slowed down. Generous for real clients, which open a
/// download once, or a few times to resume or over several connections.
/// Kept per process: behind sshd each session counts on its own.
///
/// A sliding window: at most `claimsPerWindow` claims in any `window`
/// seconds, whatever the boundary (each claim's time is kept, at most
/// `claimsPerWindow` of them per transfer). Checking and counting are one
/// step under one lock (`reserve`), so concurrent sessions of a vendor
/// cannot overshoot; a claim the store then refuses gives its place back
/// (`refund`), so opening ids that do not exist, or that are not the
/// vendor's, uses up nothing. A vendor whose table is full is refused,
/// never admitted untracked.
final class ClaimBudget: Sendable {
    static let claimsPerWindow = 20
    static let window: TimeInterval = 60
    /// Transfers tracked at once per vendor: more than its inbox can hold
    /// pending in a minute from real senders. When the table is full,
    /// transfers with no claim in the window are dropped; if there are
    /// none, a new transfer is refused.
    static let maximumTrackedPerVendor = 4096

    /// Per vendor, per transfer id: the times of the claims in the window, oldest first.
    private let claims = Mutex([String: [String: [Date]]]())

    /// Takes one claim of `transferID` for `vendor` at `now`, if the window
    /// has room, and returns the time to `refund` it with; nil if it has not.
    func reserve(vendor: String, transferID: String, now: Date) -> Date? {
        claims.withLock { claims in
            var mine = claims[vendor] ?? [:]
            var times = (mine[transferID] ?? []).filter { now.timeIntervalSince($0) < Self.window }
            guard times.count < Self.claimsPerWindow else { return nil }
            if mine[transferID] == nil, mine.count >= Self.maximumTrackedPerVendor {
                mine = mine.filter { $0.value.contains { now.timeIntervalSince($0) < Self.window } }
                guard mine.count < Self.maximumTrackedPerVendor else {
                    claims[vendor] = mine
                    return nil
                }
            }
            times.append(now)
            mine[transferID] = times
            claims[vendor] = mine
            return now
        }
    }

    /// Gives back a claim `reserve` took at `time` that the store refused.
    func refund(vendor: String, transferID: String, time: Date) {
        claims.withLock { claims in
            guard var times = claims[vendor]?[transferID], let index = times.lastIndex(of: time) else { return }
            times.remove(at: index)
            claims[vendor]?[transferID] = times.isEmpty ? nil : times
        }
    }
}
