import Foundation
import GRDB

/// `TransferStore` on one SQLite file in WAL mode (GRDB's DatabasePool):
/// readers never wait for the writer, and each state change is a single
/// conditional UPDATE whose changed-row count says who won.
public final class SQLiteTransferStore: TransferStore {
    private let pool: DatabasePool

    public init(path: String) throws(StoreError) {
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw StoreError(.database, "cannot open the metadata database \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "transfer") { table in
                table.column("id", .text).primaryKey()
                table.column("sender", .text).notNull().indexed()
                table.column("recipient", .text).notNull().indexed()
                table.column("state", .text).notNull()
                table.column("size", .integer).notNull()
                table.column("sha256", .text).notNull()
                table.column("uploadedAt", .double).notNull()
                table.column("expiresAt", .double).notNull()
                table.column("blob", .text).notNull().unique()
                table.column("claimedBy", .text)
                table.column("served", .text).notNull()
                table.column("endedAt", .double)
            }
            try db.create(table: "event") { table in
                table.autoIncrementedPrimaryKey("sequence")
                table.column("time", .double).notNull()
                table.column("kind", .text).notNull()
                table.column("actor", .text).notNull()
                table.column("source", .text).notNull()
                table.column("transferID", .text)
                table.column("size", .integer)
                table.column("sha256", .text)
                table.column("detail", .text).notNull()
            }
        }
        migrator.registerMigration("v2-log-entries") { db in
            // The exact bytes each event adds to the receipt log.
            try db.alter(table: "event") { table in table.add(column: "entry", .blob) }
        }
        return migrator
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
            try Self.insert(event, db)
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

    public func claim(id: String, recipient: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE transfer SET state = 'claimed', claimedBy = ?
                    WHERE id = ? AND recipient = ? AND expiresAt > ?
                      AND (state = 'available' OR (state = 'claimed' AND claimedBy = ?))
                    """,
                arguments: [session, id, recipient, now.timeIntervalSince1970, session])
            guard db.changesCount == 1 else {
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ? AND recipient = ?", arguments: [id, recipient]) else {
                    throw StoreError(.notFound, "no transfer \(id) is waiting for you")
                }
                let current = try Self.decode(row)
                switch current.state {
                case .claimed: throw StoreError(.alreadyClaimed, "transfer \(id) is being downloaded by another session; only one download at a time")
                case .available: throw StoreError(.expired, "transfer \(id) has expired")
                default: throw StoreError(.notFound, "transfer \(id) is no longer available (\(current.state.rawValue))")
                }
            }
            try Self.insert(event, db)
            return try Self.decode(try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ?", arguments: [id])!)
        }
    }

    public func recordServed(id: String, session: String, ranges: ServedRanges) throws(StoreError) {
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ? AND state = 'claimed' AND claimedBy = ?", arguments: [id, session])
            else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            var served = try Self.decode(row).served
            for range in ranges.ranges { served.insert(range) }
            try db.execute(sql: "UPDATE transfer SET served = ? WHERE id = ?", arguments: [try Self.encode(served), id])
        }
    }

    public func release(id: String, session: String, event: TransferEvent) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE transfer SET state = 'available', claimedBy = NULL WHERE id = ? AND state = 'claimed' AND claimedBy = ?",
                arguments: [id, session])
            if db.changesCount == 1 { try Self.insert(event, db) }
        }
    }

    public func releaseAllClaims(now: Date) throws(StoreError) -> Int {
        try write { db in
            try db.execute(sql: "UPDATE transfer SET state = 'available', claimedBy = NULL WHERE state = 'claimed'")
            return db.changesCount
        }
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ? AND state = 'claimed' AND claimedBy = ?", arguments: [id, session])
            else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            var transfer = try Self.decode(row)
            guard transfer.fullyServed else {
                throw StoreError(.incomplete, "transfer \(id) has \(transfer.served.totalBytes) of \(transfer.size) bytes served")
            }
            try db.execute(
                sql: "UPDATE transfer SET state = 'delivered', claimedBy = NULL, endedAt = ? WHERE id = ? AND state = 'claimed' AND claimedBy = ?",
                arguments: [now.timeIntervalSince1970, id, session])
            guard db.changesCount == 1 else { throw StoreError(.notClaimed, "transfer \(id) changed state during delivery") }
            try Self.insert(event, db)
            transfer.state = .delivered
            transfer.endedAt = now
            return transfer
        }
    }

    public func revoke(id: String, sender: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try write { db in
            try db.execute(
                sql: "UPDATE transfer SET state = 'revoked', endedAt = ? WHERE id = ? AND sender = ? AND state = 'available'",
                arguments: [now.timeIntervalSince1970, id, sender])
            guard db.changesCount == 1 else {
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ? AND sender = ?", arguments: [id, sender]) else {
                    throw StoreError(.notFound, "you sent no transfer \(id)")
                }
                let state = try Self.decode(row).state
                throw StoreError(.notRevocable, "transfer \(id) is \(state.rawValue) and can no longer be revoked")
            }
            try Self.insert(event, db)
            return try Self.decode(try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ?", arguments: [id])!)
        }
    }

    public func expire(now: Date) throws(StoreError) -> [Transfer] {
        try write { db in
            let due = try Row.fetchAll(
                db, sql: "SELECT * FROM transfer WHERE state IN ('available', 'claimed') AND expiresAt <= ?",
                arguments: [now.timeIntervalSince1970]
            ).map(Self.decode)
            var expired = [Transfer]()
            for var transfer in due {
                try db.execute(
                    sql: "UPDATE transfer SET state = 'expired', claimedBy = NULL, endedAt = ? WHERE id = ? AND state IN ('available', 'claimed')",
                    arguments: [now.timeIntervalSince1970, transfer.id])
                guard db.changesCount == 1 else { continue }
                transfer.state = .expired
                transfer.endedAt = now
                try Self.insert(
                    TransferEvent(
                        time: now, kind: .expired, actor: "server", sourceAddress: "", transferID: transfer.id,
                        size: transfer.size, ciphertextSHA256: transfer.ciphertextSHA256, detail: "expired at \(transfer.expiresAt)"),
                    db)
                expired.append(transfer)
            }
            return expired
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

    public func events() throws(StoreError) -> [TransferEvent] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM event ORDER BY sequence").map { row in
                var event = TransferEvent(
                    time: Date(timeIntervalSince1970: row["time"]), kind: TransferEvent.Kind(rawValue: row["kind"]) ?? .deleted,
                    actor: row["actor"], sourceAddress: row["source"], transferID: row["transferID"],
                    size: (row["size"] as Int64?).map(UInt64.init), ciphertextSHA256: row["sha256"], detail: row["detail"])
                event.sequence = row["sequence"]
                return event
            }
        }
    }

    // MARK: - Helpers

    private static func insert(_ event: TransferEvent, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO event (time, kind, actor, source, transferID, size, sha256, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            arguments: [
                event.time.timeIntervalSince1970, event.kind.rawValue, event.actor, event.sourceAddress, event.transferID,
                event.size.map(Int64.init), event.ciphertextSHA256, event.detail,
            ])
        let sequence = db.lastInsertedRowID
        try db.execute(sql: "UPDATE event SET entry = ? WHERE sequence = ?", arguments: [Data(event.logEntry(sequence: sequence)), sequence])
    }

    public func logEntries() throws(StoreError) -> [[UInt8]] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT entry FROM event ORDER BY sequence").map { [UInt8]($0["entry"] as Data? ?? Data()) }
        }
    }

    private static func decode(_ row: Row) throws -> Transfer {
        guard let state = TransferState(rawValue: row["state"]) else {
            throw StoreError(.database, "a transfer has the unknown state \(String(describing: row["state"] as String?))")
        }
        let served = try JSONDecoder().decode(ServedRanges.self, from: Data((row["served"] as String).utf8))
        return Transfer(
            id: row["id"], sender: row["sender"], recipient: row["recipient"], state: state, size: UInt64(row["size"] as Int64),
            ciphertextSHA256: row["sha256"], uploadedAt: Date(timeIntervalSince1970: row["uploadedAt"]),
            expiresAt: Date(timeIntervalSince1970: row["expiresAt"]), blob: row["blob"], claimedBy: row["claimedBy"],
            served: served, endedAt: (row["endedAt"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    private static func encode(_ served: ServedRanges) throws -> String {
        String(decoding: try JSONEncoder().encode(served), as: UTF8.self)
    }

    private func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.database, "the metadata database failed: \(error)")
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.database, "the metadata database failed: \(error)")
        }
    }
}
