import Foundation
import PostgresNIO
import SealdropLog
import SealdropStore

/// The PostgreSQL schema, its versioned migrations, and the row codec.
///
/// Times are seconds since 1970 as `double precision`, as in SQLite, so a
/// `Date` round-trips exactly; the database clock is
/// `extract(epoch from now())`. Served ranges are the same JSON text.
extension PostgresTransferStore {
    /// Versions in order; each runs once, in one transaction, recorded in
    /// `sealdrop_migrations`. Never edit a shipped one: add the next.
    static let migrations: [(version: Int, name: String, statements: [String])] = [
        (
            1, "transfers-events-log",
            [
                """
                CREATE TABLE nodes (
                    id text PRIMARY KEY,
                    started_at double precision NOT NULL,
                    heartbeat_at double precision NOT NULL)
                """,
                """
                CREATE TABLE transfer (
                    id text PRIMARY KEY,
                    sender text NOT NULL,
                    recipient text NOT NULL,
                    state text NOT NULL CHECK (state IN ('available', 'claimed', 'delivered', 'expired', 'revoked')),
                    size bigint NOT NULL CHECK (size >= 0),
                    sha256 text NOT NULL,
                    uploaded_at double precision NOT NULL,
                    expires_at double precision NOT NULL,
                    blob text NOT NULL UNIQUE,
                    claimed_by text,
                    claimed_node text,
                    served text NOT NULL,
                    served_complete boolean NOT NULL DEFAULT false,
                    lease_expires_at double precision,
                    ended_at double precision)
                """,
                "CREATE INDEX transfer_sender ON transfer (sender)",
                "CREATE INDEX transfer_recipient ON transfer (recipient)",
                "CREATE INDEX transfer_pending_expiry ON transfer (expires_at) WHERE state IN ('available', 'claimed')",
                // The receipt log: `sequence` is handed out by `log_head` in
                // the writing transaction (see `appendLog`), never by a
                // sequence object, so it has no gaps and commits in order.
                """
                CREATE TABLE event (
                    sequence bigint PRIMARY KEY CHECK (sequence >= 1),
                    time double precision NOT NULL,
                    kind text NOT NULL,
                    actor text NOT NULL,
                    source text NOT NULL,
                    transfer_id text,
                    size bigint,
                    sha256 text,
                    expires double precision,
                    recipient text,
                    count bigint,
                    detail text NOT NULL,
                    entry bytea NOT NULL,
                    leaf bytea NOT NULL)
                """,
                "CREATE INDEX event_transfer ON event (transfer_id)",
                "CREATE TABLE log_head (id int PRIMARY KEY CHECK (id = 1), size bigint NOT NULL CHECK (size >= 0))",
                "INSERT INTO log_head (id, size) VALUES (1, 0)",
            ]
        ),
        (
            2, "shared-node-state",
            [
                // What SQLite mode keeps in files beside its database and
                // several nodes must share: the revocation-number floor and
                // rate-limit counters.
                "CREATE TABLE revocation_floor (id int PRIMARY KEY CHECK (id = 1), number bigint NOT NULL)",
                """
                CREATE TABLE rate_counter (
                    key text NOT NULL,
                    window_start double precision NOT NULL,
                    count bigint NOT NULL,
                    PRIMARY KEY (key, window_start))
                """,
            ]
        ),
        (
            3, "claim-handles",
            [
                // One claim per recipient, shared by its open handles (one per
                // session); a handle's ranges count towards delivery only at
                // CLOSE. `node` ties a handle to its node's heartbeat.
                """
                CREATE TABLE claim_handle (
                    transfer_id text NOT NULL REFERENCES transfer (id),
                    holder text NOT NULL,
                    node text NOT NULL,
                    served text NOT NULL,
                    lease_expires_at double precision NOT NULL,
                    PRIMARY KEY (transfer_id, holder))
                """
            ]
        ),
        (
            4, "counter-window-length",
            [
                // Each window keeps its length, so dropping old windows never
                // touches one still open (a window may be longer than a day).
                "ALTER TABLE rate_counter ADD COLUMN window_seconds double precision NOT NULL DEFAULT 86400"
            ]
        ),
        (
            5, "statement-once",
            [
                // One acknowledgment and one declaration per transfer, held by
                // the database, so two nodes cannot each record a first one.
                // Older entries are left out: a log may already hold a duplicate.
                """
                DO $$ BEGIN
                    EXECUTE format(
                        'CREATE UNIQUE INDEX event_statement_once ON event (transfer_id, kind) '
                        || 'WHERE kind IN (''acknowledged'', ''declared'') AND sequence > %s',
                        (SELECT coalesce(max(sequence), 0) FROM event));
                END $$
                """
            ]
        ),
    ]

    /// The latest schema version this build knows.
    public static var schemaVersion: Int { migrations.last!.version }

    /// Brings the schema up to date. Nodes starting together serialise on an
    /// advisory lock, so each migration runs exactly once; a database newer
    /// than this build is refused rather than written with old rules.
    static func migrate(_ pool: PostgresPool) throws(StoreError) {
        try pool.transaction { (link) throws(StoreError) in
            try link.run("SELECT pg_advisory_xact_lock(\(Int64(0x5EA1_D309)))")
            if let schema = pool.settings.schema {
                try link.run(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"))
            }
            try link.run(
                """
                CREATE TABLE IF NOT EXISTS sealdrop_migrations (
                    version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let rows = try link.query("SELECT COALESCE(max(version), 0) FROM sealdrop_migrations")
            var current: Int32 = 0
            if let row = rows.first { current = try value(row, as: Int32.self) }
            guard Int(current) <= schemaVersion else {
                throw StoreError(
                    .database,
                    "the metadata database has schema version \(current), newer than this sealdropd's \(schemaVersion); upgrade sealdropd")
            }
            for migration in migrations where migration.version > Int(current) {
                for statement in migration.statements { try link.run(PostgresQuery(unsafeSQL: statement)) }
                try link.run("INSERT INTO sealdrop_migrations (version, name) VALUES (\(Int32(migration.version)), \(migration.name))")
            }
        }
    }

    /// Columns of `transfer` in the order `decodeTransfer` reads them.
    static func transferColumns(_ alias: String = "") -> String {
        let prefix = alias.isEmpty ? "" : alias + "."
        return [
            "id", "sender", "recipient", "state", "size", "sha256", "uploaded_at", "expires_at", "blob", "claimed_by", "served", "ended_at", "lease_expires_at",
        ]
        .map { prefix + $0 }.joined(separator: ", ")
    }

    static func decodeTransfer(_ row: PostgresRow) throws(StoreError) -> Transfer {
        let columns: (String, String, String, String, Int64, String, Double, Double, String, String?, String, Double?, Double?)
        do {
            columns = try row.decode((String, String, String, String, Int64, String, Double, Double, String, String?, String, Double?, Double?).self)
        } catch {
            throw StoreError(.database, "a transfer row cannot be read: \(PostgresPool.describe(error))")
        }
        guard let state = TransferState(rawValue: columns.3) else {
            throw StoreError(.database, "a transfer has the unknown state \(columns.3)")
        }
        return Transfer(
            id: columns.0, sender: columns.1, recipient: columns.2, state: state, size: UInt64(clamping: columns.4), ciphertextSHA256: columns.5,
            uploadedAt: Date(timeIntervalSince1970: columns.6), expiresAt: Date(timeIntervalSince1970: columns.7), blob: columns.8,
            claimedBy: columns.9, served: try ServedRanges(storedText: columns.10), endedAt: columns.11.map(Date.init(timeIntervalSince1970:)),
            leaseExpiresAt: columns.12.map(Date.init(timeIntervalSince1970:)))
    }

    static func value<T: PostgresDecodable>(_ row: PostgresRow, as type: T.Type) throws(StoreError) -> T {
        do {
            return try row.decode(T.self)
        } catch {
            throw StoreError(.database, "a row from the metadata database cannot be read: \(PostgresPool.describe(error))")
        }
    }

    static func decode<each Column: PostgresDecodable>(_ row: PostgresRow, as type: (repeat each Column).Type) throws(StoreError) -> (
        repeat each Column
    ) {
        do {
            return try row.decode((repeat each Column).self)
        } catch {
            throw StoreError(.database, "a row from the metadata database cannot be read: \(PostgresPool.describe(error))")
        }
    }
}
