import Foundation

/// State that several nodes of one drop box must share and that a store
/// shared by them (PostgreSQL) keeps. A store on one machine (SQLite) does
/// not adopt it: there the revocation-number floor stays a locked file in
/// the data directory and counters stay in memory.
public protocol SharedNodeState: Sendable {
    /// The highest revocation list number any node has accepted (0 if none).
    func revocationFloor() throws(StoreError) -> UInt64
    /// Raises the floor to `number` unless it is already higher, atomically
    /// across nodes; returns the floor now recorded (never lower than before).
    @discardableResult
    func raiseRevocationFloor(to number: UInt64) throws(StoreError) -> UInt64
    /// Adds one to `key`'s counter for the window of `window` seconds that
    /// holds now (the database's clock) and returns the new count, so a
    /// limit such as failed logins per source per minute holds across nodes.
    func incrementCounter(_ key: String, window: TimeInterval) throws(StoreError) -> Int64
    /// How many `incrementCounter(key, window:)` calls fell in the last
    /// `window` seconds (the database's clock), estimated from the fixed
    /// windows the counters keep: the open window's count plus the share of
    /// the previous window's count still inside the last `window` seconds,
    /// rounded up. A source cannot then double its limit by failing at the
    /// end of one window and the start of the next.
    func recentCount(_ key: String, window: TimeInterval) throws(StoreError) -> Int64
}
