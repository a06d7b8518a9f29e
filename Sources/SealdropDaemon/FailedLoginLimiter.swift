import Foundation
import SealdropStore
import Synchronization

/// The failed-login limit: a source that failed `limit` logins in the last
/// minute is refused until the minute has passed.
///
/// One node counts its own failures in memory (a sliding minute). Nodes
/// sharing a database (`SharedNodeState`) also count every failure in the
/// database's counters, so a source failing on node A is limited on node B
/// too: the check adds what all nodes counted (a sliding estimate over the
/// database's fixed windows, rounded up). A node reads the shared count of a
/// source at most once a second (its own failures update what it has read
/// at once), so a login costs at most one extra round trip. When the
/// database cannot be read the node falls back to its own count for a few
/// seconds: logins then fail anyway if they cannot be recorded, and a
/// database that hangs must not also hold every new connection.
final class FailedLoginLimiter: Sendable {
    /// The length of the limit's window, in seconds: "failed logins per minute".
    static let window: TimeInterval = 60
    /// How long a shared count read from the database is used before it is
    /// read again: other nodes' failures reach this node within it.
    static let sharedCountLifetime: TimeInterval = 1
    /// After a failed database call, how long only the local count is used.
    static let sharedBackoff: TimeInterval = 5

    let limit: Int
    private let shared: (any SharedNodeState)?
    private let state = Mutex(State())

    private struct State {
        /// This node's failures per source, newest last, no more than the limit needs.
        var local: [String: [Date]] = [:]
        /// The last shared count seen per source, and when.
        var shared: [String: (count: Int64, seen: Date)] = [:]
        var sharedUnavailableUntil = Date.distantPast
    }

    /// - Parameter shared: the database's counters when nodes share one; nil on one node.
    init(limit: Int, shared: (any SharedNodeState)?) {
        self.limit = limit
        self.shared = shared
    }

    /// The key of `source`'s counter in the shared database.
    static func counterKey(_ source: String) -> String { "failed-login " + source }

    /// Whether `source` has used up its failed logins for now.
    func isLimited(_ source: String, now: Date = Date()) -> Bool {
        let cached = state.withLock { state -> (local: Int, shared: Int64?, fresh: Bool) in
            let recent = (state.local[source] ?? []).filter { $0 > now.addingTimeInterval(-Self.window) }
            state.local[source] = recent.isEmpty ? nil : recent
            let seen = state.shared[source]
            let fresh = seen.map { now.timeIntervalSince($0.seen) < Self.sharedCountLifetime } ?? false
            return (recent.count, seen?.count, fresh || now < state.sharedUnavailableUntil)
        }
        if cached.local >= limit { return true }
        guard let shared else { return false }
        if cached.fresh { return (cached.shared ?? 0) >= Int64(limit) }
        do {
            let count = try shared.recentCount(Self.counterKey(source), window: Self.window)
            state.withLock { $0.shared[source] = (count, now) }
            return count >= Int64(limit)
        } catch {
            state.withLock { $0.sharedUnavailableUntil = now.addingTimeInterval(Self.sharedBackoff) }
            DaemonLog.line("the shared failed-login count is unavailable; using this node's own for \(Int(Self.sharedBackoff)) s: \(error)")
            return (cached.shared ?? 0) >= Int64(limit)
        }
    }

    /// Counts a failed login from `source`. `shared` false counts it on this
    /// node only: a connection refused because the source is already limited
    /// keeps it limited here without a database write per knock.
    func noteFailure(_ source: String, shared countShared: Bool = true, now: Date = Date()) {
        let useShared = state.withLock { state -> Bool in
            var recent = state.local[source, default: []]
            recent.append(now)
            // Only the last minute's worth matters; keep no more than the limit needs.
            if recent.count > 2 * limit { recent.removeFirst(recent.count - 2 * limit) }
            state.local[source] = recent
            return countShared && now >= state.sharedUnavailableUntil
        }
        guard let shared, useShared else { return }
        do {
            let count = try shared.incrementCounter(Self.counterKey(source), window: Self.window)
            state.withLock { state in
                // This window's count is a floor for the sliding one; one more than last seen too.
                let before = state.shared[source]
                state.shared[source] = (max(count, (before?.count ?? 0) + 1), before?.seen ?? now)
            }
        } catch {
            state.withLock { $0.sharedUnavailableUntil = now.addingTimeInterval(Self.sharedBackoff) }
            DaemonLog.line("a failed login from \(source) was counted on this node only: \(error)")
        }
    }

    /// Forgets sources with no failure in the last minute (called now and then).
    func prune(now: Date = Date()) {
        state.withLock { state in
            state.local = state.local.filter { $0.value.contains { $0 > now.addingTimeInterval(-Self.window) } }
            state.shared = state.shared.filter { now.timeIntervalSince($0.value.seen) < Self.window }
        }
    }
}
