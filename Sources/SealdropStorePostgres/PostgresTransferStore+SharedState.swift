import Foundation
import PostgresNIO
import SealdropStore

/// The revocation-number floor and rate counters, shared by every node:
/// each one statement, so two nodes raising or counting at once never lose
/// an update.
extension PostgresTransferStore: SharedNodeState {
    public func revocationFloor() throws(StoreError) -> UInt64 {
        try Self.revocationFloor(pool)
    }

    /// The shared floor read on a connection of its own: no migration, no
    /// node row, no heartbeat. For `sealdropd authorized-keys`, which sshd
    /// runs at every login and which must not join the cluster as a node.
    public static func revocationFloor(settings: PostgresSettings) throws(StoreError) -> UInt64 {
        let pool = try PostgresPool(settings)
        defer { pool.close() }
        return try revocationFloor(pool)
    }

    private static func revocationFloor(_ pool: PostgresPool) throws(StoreError) -> UInt64 {
        try pool.withConnection { (link) throws(StoreError) -> UInt64 in
            guard let row = try link.query("SELECT number FROM revocation_floor WHERE id = 1").first else { return 0 }
            return UInt64(clamping: try Self.value(row, as: Int64.self))
        }
    }

    @discardableResult
    public func raiseRevocationFloor(to number: UInt64) throws(StoreError) -> UInt64 {
        // Revocation list numbers are small (one a day for centuries fits);
        // one beyond bigint is refused rather than clamped to a lower floor.
        guard let value = Int64(exactly: number) else {
            throw StoreError(.database, "revocation list number \(number) is too large to record")
        }
        return try pool.withConnection { (link) throws(StoreError) -> UInt64 in
            let rows = try link.query(
                """
                INSERT INTO revocation_floor (id, number) VALUES (1, \(value))
                ON CONFLICT (id) DO UPDATE SET number = GREATEST(revocation_floor.number, EXCLUDED.number)
                RETURNING number
                """)
            guard let row = rows.first else { throw StoreError(.database, "the revocation floor was not recorded") }
            return UInt64(clamping: try Self.value(row, as: Int64.self))
        }
    }

    public func incrementCounter(_ key: String, window: TimeInterval) throws(StoreError) -> Int64 {
        guard window > 0, window.isFinite else { throw StoreError(.database, "a counter window must be a positive number of seconds") }
        return try pool.withConnection { (link) throws(StoreError) -> Int64 in
            let rows = try link.query(
                """
                INSERT INTO rate_counter (key, window_start, window_seconds, count)
                VALUES (\(key), floor(extract(epoch from now())::float8 / \(window)) * \(window), \(window), 1)
                ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counter.count + 1
                RETURNING count
                """)
            guard let row = rows.first else { throw StoreError(.database, "the counter \(key) was not recorded") }
            // Ended windows are dropped now and then, by whichever node counts.
            if Int.random(in: 0..<256) == 0 { try Self.dropEndedCounters(link) }
            return try Self.value(row, as: Int64.self)
        }
    }

    public func recentCount(_ key: String, window: TimeInterval) throws(StoreError) -> Int64 {
        guard window > 0, window.isFinite else { throw StoreError(.database, "a counter window must be a positive number of seconds") }
        return try pool.withConnection { (link) throws(StoreError) -> Int64 in
            // A window [start, start + w) is open while now is in it; the one
            // before it still counts for the part of it within the last w seconds.
            let rows = try link.query(
                """
                SELECT COALESCE(ceil(SUM(CASE WHEN window_start + window_seconds > t THEN count::float8
                    ELSE count * GREATEST(0, 1 - (t - window_start - window_seconds) / window_seconds) END)), 0)::bigint
                FROM rate_counter, (SELECT extract(epoch from now())::float8 AS t) AS clock
                WHERE key = \(key) AND window_seconds = \(window) AND window_start + 2 * window_seconds > t
                """)
            guard let row = rows.first else { return 0 }
            return try Self.value(row, as: Int64.self)
        }
    }

    static func dropEndedCounters(_ link: PostgresLink) throws(StoreError) {
        try link.run("DELETE FROM rate_counter WHERE window_start + window_seconds < extract(epoch from now())::float8")
    }
}
