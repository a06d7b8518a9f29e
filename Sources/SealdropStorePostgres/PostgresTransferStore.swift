import Foundation
import NIOCore
import PostgresNIO
import SealdropLog
import SealdropStore
import Synchronization

/// `TransferStore` on PostgreSQL, shared by several `sealdropd` nodes.
///
/// The same rules as `SQLiteTransferStore`, kept across nodes that race or
/// die: every lifecycle change is one conditional statement whose returned
/// row names the winner; a claim is held while its lease runs and its
/// node's heartbeat is fresh; the reaper on every node skips rows another
/// holds (`FOR UPDATE SKIP LOCKED`); and receipt-log numbers are handed out
/// by one counter row in the writing transaction, so the log is one
/// gap-free sequence that commits in order.
///
/// Callers are plain threads: each call blocks until it finishes or its
/// deadline passes (`PostgresSettings.callTimeout`). Never call it from a
/// Swift concurrency task.
public final class PostgresTransferStore: TransferStore {
    /// Whose clock decides leases and expiry.
    public enum Clock: Sendable {
        /// The database's `now()`: nodes with skewed clocks still agree.
        /// Event times, upload times and expiry are taken from it too; the
        /// `now` arguments are ignored.
        case database
        /// The `now` arguments, as SQLite uses them (tests that move time).
        /// Node liveness still uses the database clock.
        case caller
    }

    let pool: PostgresPool
    /// How long a claim holds without being renewed.
    public let claimLease: TimeInterval
    /// This node's row in `nodes`; its claims are freed once it goes quiet.
    public let nodeID: String
    public let clock: Clock
    /// A node whose heartbeat is older than this is dead: its claims are
    /// free whatever their lease says.
    public let nodeTimeout: TimeInterval
    private let heartbeat: NodeHeartbeat

    /// Connects, migrates the schema and starts this node's heartbeat.
    ///
    /// - Parameters:
    ///   - claimLease: seconds a download claim lasts unless renewed.
    ///   - nodeID: this node's name in `nodes` (unique per running process).
    ///   - heartbeatInterval: seconds between heartbeats; well under `nodeTimeout`.
    public init(
        settings: PostgresSettings, claimLease: TimeInterval = 60, nodeID: String = PostgresTransferStore.defaultNodeID(),
        clock: Clock = .database, heartbeatInterval: TimeInterval = 5, nodeTimeout: TimeInterval = 30
    ) throws(StoreError) {
        pool = try PostgresPool(settings)
        self.claimLease = claimLease
        self.nodeID = nodeID
        self.clock = clock
        self.nodeTimeout = nodeTimeout
        try Self.migrate(pool)
        heartbeat = NodeHeartbeat(pool: pool, nodeID: nodeID, interval: heartbeatInterval)
        try heartbeat.beat()
        heartbeat.start()
    }

    /// Connects to `url` (`postgres://...`) with default settings.
    public convenience init(url: String, claimLease: TimeInterval = 60, clock: Clock = .database) throws(StoreError) {
        try self.init(settings: PostgresSettings(url: url), claimLease: claimLease, clock: clock)
    }

    deinit { close() }

    /// Stops the heartbeat and closes the connections. The node's row
    /// stays: its claims free themselves once the heartbeat is stale.
    public func close() {
        heartbeat.stop()
        pool.close()
    }

    /// Stops only the heartbeat, as a node that hangs would (tests).
    public func stopHeartbeat() { heartbeat.stop() }

    /// Statements sent to the database so far (each one round trip).
    public var statementCount: Int { pool.statements.load(ordering: .relaxed) }

    public static func defaultNodeID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// The caller's time as a bind, or nil for the database's (see `clockSQL`).
    func bound(_ now: Date) -> Double? { clock == .caller ? now.timeIntervalSince1970 : nil }

    // MARK: Reads

    public func transfer(id: String) throws(StoreError) -> Transfer? {
        try pool.withConnection { (link) throws(StoreError) in
            try link.query("SELECT \(unescaped: Self.transferColumns()) FROM transfer WHERE id = \(id)").first.map(Self.decodeTransfer)
        }
    }

    public func inbox(recipient: String) throws(StoreError) -> [Transfer] {
        try transfers(
            "SELECT \(unescaped: Self.transferColumns()) FROM transfer WHERE recipient = \(recipient) AND state IN ('available', 'claimed') ORDER BY uploaded_at, id"
        )
    }

    public func sent(by sender: String) throws(StoreError) -> [Transfer] {
        try transfers("SELECT \(unescaped: Self.transferColumns()) FROM transfer WHERE sender = \(sender) ORDER BY uploaded_at DESC, id")
    }

    public func involving(_ vendor: String) throws(StoreError) -> [Transfer] {
        try transfers(
            "SELECT \(unescaped: Self.transferColumns()) FROM transfer WHERE sender = \(vendor) OR recipient = \(vendor) ORDER BY uploaded_at DESC, id")
    }

    private func transfers(_ query: PostgresQuery) throws(StoreError) -> [Transfer] {
        try pool.withConnection { (link) throws(StoreError) in
            var result = [Transfer]()
            for row in try link.query(query) { result.append(try Self.decodeTransfer(row)) }
            return result
        }
    }

    public func pendingUsage(sender: String) throws(StoreError) -> (bytes: UInt64, count: Int) {
        try pool.withConnection { (link) throws(StoreError) in
            let rows = try link.query(
                "SELECT COALESCE(SUM(size), 0)::bigint, COUNT(*) FROM transfer WHERE sender = \(sender) AND state IN ('available', 'claimed')")
            guard let row = rows.first else { return (0, 0) }
            let (bytes, count) = try Self.decode(row, as: (Int64, Int64).self)
            return (UInt64(clamping: bytes), Int(count))
        }
    }

    public func pendingBlobs() throws(StoreError) -> Set<String> {
        try pool.withConnection { (link) throws(StoreError) in
            var blobs = Set<String>()
            for row in try link.query("SELECT blob FROM transfer WHERE state IN ('available', 'claimed')") {
                blobs.insert(try Self.value(row, as: String.self))
            }
            return blobs
        }
    }

    // MARK: The receipt log

    public func record(_ event: TransferEvent) throws(StoreError) {
        try record([event])
    }

    public func record(_ events: [TransferEvent]) throws(StoreError) {
        guard !events.isEmpty else { return }
        try pool.transaction { (link) throws(StoreError) in try appendLog(events, link) }
    }

    public func events() throws(StoreError) -> [TransferEvent] {
        try pool.withConnection { (link) throws(StoreError) in
            var events = [TransferEvent]()
            let rows = try link.query(
                "SELECT sequence, time, kind, actor, source, transfer_id, size, sha256, expires, recipient, count, detail FROM event ORDER BY sequence")
            for row in rows {
                let columns = try Self.decode(
                    row, as: (Int64, Double, String, String, String, String?, Int64?, String?, Double?, String?, Int64?, String).self)
                // An unknown kind is a damaged database, never another kind.
                guard let kind = TransferEvent.Kind(rawValue: columns.2) else {
                    throw StoreError(.database, "event \(columns.0) has the unknown kind \(columns.2)")
                }
                var event = TransferEvent(
                    time: Date(timeIntervalSince1970: columns.1), kind: kind, actor: columns.3, sourceAddress: columns.4, transferID: columns.5,
                    size: columns.6.map { UInt64(clamping: $0) }, ciphertextSHA256: columns.7,
                    expiresAt: columns.8.map(Date.init(timeIntervalSince1970:)), recipient: columns.9, count: columns.10, detail: columns.11)
                event.sequence = columns.0
                events.append(event)
            }
            return events
        }
    }

    public func logEntries() throws(StoreError) -> [[UInt8]] {
        try bytes("SELECT entry FROM event ORDER BY sequence")
    }

    /// One page of the log for a streamed export (`TransferStore`'s paged form).
    public func logEntries(from offset: Int, limit: Int) throws(StoreError) -> [[UInt8]] {
        try bytes("SELECT entry FROM event WHERE sequence > \(Int64(offset)) ORDER BY sequence LIMIT \(Int64(limit))")
    }

    public func logLeafHashes() throws(StoreError) -> [[UInt8]] {
        try bytes("SELECT leaf FROM event ORDER BY sequence")
    }

    public func logEntries(transfer id: String) throws(StoreError) -> [(index: Int, entry: [UInt8])] {
        try pool.withConnection { (link) throws(StoreError) in
            var entries = [(index: Int, entry: [UInt8])]()
            // Numbers run 1, 2, 3… without gaps, so a position is the number less one.
            for row in try link.query("SELECT sequence, entry FROM event WHERE transfer_id = \(id) ORDER BY sequence") {
                let (sequence, entry) = try Self.decode(row, as: (Int64, Data).self)
                entries.append((index: Int(sequence) - 1, entry: [UInt8](entry)))
            }
            return entries
        }
    }

    private func bytes(_ query: PostgresQuery) throws(StoreError) -> [[UInt8]] {
        try pool.withConnection { (link) throws(StoreError) in
            var result = [[UInt8]]()
            for row in try link.query(query) { result.append([UInt8](try Self.value(row, as: Data.self))) }
            return result
        }
    }

    /// Appends `events` to the receipt log, numbered by `log_head` inside the
    /// caller's transaction. The counter row stays locked until the commit,
    /// so the next writer gets its numbers only after these are visible:
    /// numbers commit in order, and a rollback takes its numbers back. Call
    /// it last in the transaction, as the lock is held until the commit.
    /// In `.database` clock mode the entries carry the database's time.
    func appendLog(_ events: [TransferEvent], _ link: PostgresLink) throws(StoreError) {
        guard !events.isEmpty else { return }
        let rows = try link.query(
            "UPDATE log_head SET size = size + \(Int64(events.count)) WHERE id = 1 RETURNING size, extract(epoch from now())::float8")
        guard let row = rows.first else { throw StoreError(.database, "the receipt log's head row is missing") }
        let (size, databaseNow) = try Self.decode(row, as: (Int64, Double).self)
        let first = size - Int64(events.count) + 1
        var sql = "INSERT INTO event (sequence, time, kind, actor, source, transfer_id, size, sha256, expires, recipient, count, detail, entry, leaf) VALUES "
        var binds = PostgresBindings(capacity: events.count * 14)
        for (offset, original) in events.enumerated() {
            var event = original
            if clock == .database { event.time = Date(timeIntervalSince1970: databaseNow) }
            let sequence = first + Int64(offset)
            let entry = event.logEntry(sequence: sequence).encoded()
            let base = offset * 14
            sql += (offset == 0 ? "" : ", ") + "(" + (1...14).map { "$\(base + $0)" }.joined(separator: ", ") + ")"
            binds.append(sequence)
            binds.append(event.time.timeIntervalSince1970)
            binds.append(event.kind.rawValue)
            binds.append(event.actor)
            binds.append(event.sourceAddress)
            binds.append(event.transferID)
            binds.append(event.size.map { Int64(clamping: $0) })
            binds.append(event.ciphertextSHA256)
            binds.append(event.expiresAt?.timeIntervalSince1970)
            binds.append(event.recipient)
            binds.append(event.count)
            binds.append(event.detail)
            binds.append(ByteBuffer(bytes: entry))
            binds.append(ByteBuffer(bytes: MerkleTree.leafHash(entry)))
        }
        try link.run(PostgresQuery(unsafeSQL: sql, binds: binds))
    }
}

/// This node's liveness: its `nodes` row, touched every `interval` seconds
/// with the database's clock, on a thread of its own.
final class NodeHeartbeat: Sendable {
    private let pool: PostgresPool
    let nodeID: String
    private let interval: TimeInterval
    private let stopped = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)

    init(pool: PostgresPool, nodeID: String, interval: TimeInterval) {
        self.pool = pool
        self.nodeID = nodeID
        self.interval = interval
    }

    func beat() throws(StoreError) {
        try pool.withConnection { (link) throws(StoreError) in
            _ = try link.run(
                """
                INSERT INTO nodes (id, started_at, heartbeat_at)
                VALUES (\(nodeID), extract(epoch from now())::float8, extract(epoch from now())::float8)
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
                """)
        }
    }

    /// Rows of nodes silent this long and holding no claim are removed
    /// (every `sftp-subsystem` session process is a node of its own).
    static let forgetAfter: TimeInterval = 86_400

    func forgetDeadNodes() throws(StoreError) {
        try pool.withConnection { (link) throws(StoreError) in
            _ = try link.run(
                """
                DELETE FROM nodes n WHERE n.heartbeat_at < extract(epoch from now())::float8 - \(Self.forgetAfter)
                  AND NOT EXISTS (SELECT 1 FROM transfer t WHERE t.claimed_node = n.id)
                """)
        }
    }

    func start() {
        let thread = Thread { [self] in
            var beats = 0
            while !stopped.load(ordering: .acquiring) {
                if wake.wait(timeout: .now() + interval) == .success { break }
                guard !stopped.load(ordering: .acquiring) else { break }
                // A missed beat is retried at the next one; a node that
                // cannot reach the database for `nodeTimeout` loses its claims.
                try? beat()
                beats += 1
                if beats % 720 == 1 { try? forgetDeadNodes() }
            }
        }
        thread.name = "sealdrop-heartbeat"
        thread.start()
    }

    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.signal()
    }
}
