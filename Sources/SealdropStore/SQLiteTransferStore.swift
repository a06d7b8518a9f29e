import Foundation
import GRDB

/// `TransferStore` on one SQLite file in WAL mode (GRDB's DatabasePool):
/// readers never wait for the writer, and each state change is a single
/// conditional UPDATE whose changed-row count says who won.
public final class SQLiteTransferStore: TransferStore {
    private let pool: DatabasePool
    /// How long a claim holds without being renewed (`renewClaim`, or any
    /// `recordServed`): a crashed session frees its download after this.
    public let claimLease: TimeInterval

    /// - Parameter claimLease: seconds a download claim lasts unless renewed.
    public init(path: String, claimLease: TimeInterval = 60) throws(StoreError) {
        self.claimLease = claimLease
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            // WAL with synchronous = NORMAL: a commit is in the WAL file before
            // it returns, so it survives the process being killed (the kernel
            // holds the pages); only a power cut can lose the last commits.
            // FULL would fsync every commit, which a per-READ record cannot afford.
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw StoreError(.database, "cannot open the metadata database \(path): \(error)")
        }
    }

    public func publish(_ transfer: Transfer, event: TransferEvent) throws(StoreError) {
        try write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM transfer WHERE id = ?", arguments: [transfer.id]) != nil {
                throw StoreError(.duplicateTransfer, "transfer \(transfer.id) was uploaded before; a replayed envelope is refused")
            }
            try db.execute(
                sql: """
                    INSERT INTO transfer (id, sender, recipient, state, size, sha256, uploadedAt, expiresAt, blob, claimedBy, served, endedAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)
                    """,
                arguments: [
                    transfer.id, transfer.sender, transfer.recipient, TransferState.available.rawValue, Int64(transfer.size),
                    transfer.ciphertextSHA256, transfer.uploadedAt.timeIntervalSince1970, transfer.expiresAt.timeIntervalSince1970,
                    transfer.blob, try Self.encode(transfer.served),
                ])
            var published = event
            if published.kind == .uploadPublished { published.recipient = transfer.recipient }
            try Self.insert(published, db)
        }
    }

    public func transfer(id: String) throws(StoreError) -> Transfer? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ?", arguments: [id]).map(Self.decode) }
    }

    public func inbox(recipient: String) throws(StoreError) -> [Transfer] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM transfer WHERE recipient = ? AND state IN ('available', 'claimed') ORDER BY uploadedAt, id",
                arguments: [recipient]
            ).map(Self.decode)
        }
    }

    public func sent(by sender: String) throws(StoreError) -> [Transfer] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM transfer WHERE sender = ? ORDER BY uploadedAt DESC, id", arguments: [sender]).map(Self.decode)
        }
    }

    public func involving(_ vendor: String) throws(StoreError) -> [Transfer] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM transfer WHERE sender = ? OR recipient = ? ORDER BY uploadedAt DESC, id", arguments: [vendor, vendor]
            ).map(Self.decode)
        }
    }

    public func pendingUsage(sender: String) throws(StoreError) -> (bytes: UInt64, count: Int) {
        try read { db in
            let row = try Row.fetchOne(
                db, sql: "SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS count FROM transfer WHERE sender = ? AND state IN ('available', 'claimed')",
                arguments: [sender])!
            return (UInt64(row["bytes"] as Int64), row["count"] as Int)
        }
    }

    public func pendingBlobs() throws(StoreError) -> Set<String> {
        try read { db in Set(try String.fetchAll(db, sql: "SELECT blob FROM transfer WHERE state IN ('available', 'claimed')")) }
    }

    public func record(_ event: TransferEvent) throws(StoreError) {
        try write { db in try Self.insert(event, db) }
    }

    public func record(_ events: [TransferEvent]) throws(StoreError) {
        guard !events.isEmpty else { return }
        try write { db in
            for event in events { try Self.insert(event, db) }
        }
    }

    public func events() throws(StoreError) -> [TransferEvent] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM event ORDER BY sequence").map { row in
                // An unknown kind is a damaged database, never another kind.
                guard let kind = TransferEvent.Kind(rawValue: row["kind"]) else {
                    throw StoreError(.database, "event \(row["sequence"] as Int64) has the unknown kind \(String(describing: row["kind"] as String?))")
                }
                var event = TransferEvent(
                    time: Date(timeIntervalSince1970: row["time"]), kind: kind, actor: row["actor"], sourceAddress: row["source"],
                    transferID: row["transferID"], size: (row["size"] as Int64?).map(UInt64.init), ciphertextSHA256: row["sha256"],
                    expiresAt: (row["expires"] as Double?).map(Date.init(timeIntervalSince1970:)), recipient: row["recipient"],
                    count: row["count"], detail: row["detail"])
                event.sequence = row["sequence"]
                return event
            }
        }
    }

    public func logEntries() throws(StoreError) -> [[UInt8]] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT entry FROM event ORDER BY sequence").map { [UInt8]($0["entry"] as Data? ?? Data()) }
        }
    }

    public func logEntries(from offset: Int, limit: Int) throws(StoreError) -> [[UInt8]] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT entry FROM event WHERE sequence > ? ORDER BY sequence LIMIT ?", arguments: [offset, limit]).map {
                [UInt8]($0["entry"] as Data? ?? Data())
            }
        }
    }

    public func logLeafHashes() throws(StoreError) -> [[UInt8]] {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT leaf FROM event ORDER BY sequence")
            var hashes = [[UInt8]]()
            while let row = try rows.next() { hashes.append([UInt8](row["leaf"] as Data? ?? Data())) }
            return hashes
        }
    }

    public func logEntries(transfer id: String) throws(StoreError) -> [(index: Int, entry: [UInt8])] {
        try read { db in
            // Sequence numbers run 1, 2, 3… without gaps (audit verify checks
            // it), so an entry's position is its sequence number less one.
            try Row.fetchAll(db, sql: "SELECT sequence, entry FROM event WHERE transferID = ? ORDER BY sequence", arguments: [id]).map {
                (index: Int($0["sequence"] as Int64) - 1, entry: [UInt8]($0["entry"] as Data? ?? Data()))
            }
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.database, "the metadata database failed: \(error)")
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.database, "the metadata database failed: \(error)")
        }
    }
}
