import Foundation
import GRDB
import SealdropLog

/// The SQLite schema, its migrations, and the row codec.
extension SQLiteTransferStore {
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
        migrator.registerMigration("v3-claim-leases") { db in
            // A claim holds until its lease runs out (NULL: a claim from before
            // leases, taken over like an expired one). `servedComplete` is 1
            // once every byte went out: such a transfer is never claimed again,
            // whatever happens to the session that served it.
            try db.alter(table: "transfer") { table in
                table.add(column: "leaseExpiresAt", .double)
                table.add(column: "servedComplete", .integer).notNull().defaults(to: 0)
            }
        }
        migrator.registerMigration("v5-settle-served-before-leases") { db in
            // Before leases, a claim was released whatever it had served, so
            // a database from then can hold a pending transfer whose every
            // byte already went out. Mark it fully served and claimed by no
            // session: it is never claimed again, and the start-up sweep
            // settles it as a delivery.
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, size, served FROM transfer WHERE state IN ('available', 'claimed') AND servedComplete = 0")
            for row in rows {
                let served = try decodeServed(row["served"])
                guard served.covers(UInt64(row["size"] as Int64)) else { continue }
                try db.execute(
                    sql: "UPDATE transfer SET state = 'claimed', claimedBy = NULL, leaseExpiresAt = NULL, servedComplete = 1 WHERE id = ?",
                    arguments: [row["id"] as String])
            }
        }
        migrator.registerMigration("v4-log-index") { db in
            // Each entry's leaf hash, kept at insert so a receipt or a tree
            // head never rehashes the log; the typed fields the entry codec
            // added; and an index so a receipt is a lookup, not a scan.
            try db.alter(table: "event") { table in
                table.add(column: "leaf", .blob)
                table.add(column: "expires", .double)
                table.add(column: "recipient", .text)
                table.add(column: "count", .integer)
            }
            let rows = try Row.fetchAll(db, sql: "SELECT sequence, entry FROM event")
            for row in rows {
                let entry = [UInt8](row["entry"] as Data? ?? Data())
                try db.execute(
                    sql: "UPDATE event SET leaf = ? WHERE sequence = ?", arguments: [Data(MerkleTree.leafHash(entry)), row["sequence"] as Int64])
            }
            try db.create(index: "event_transfer", on: "event", columns: ["transferID"])
        }
        migrator.registerMigration("v6-claim-handles") { db in
            // One claim per recipient, shared by its open handles (several
            // sessions of one multi-connection client). Each handle keeps
            // the ranges served to it; they count towards delivery only
            // once the handle is CLOSEd (then merged into `transfer.served`).
            // A handle lost without CLOSE is deleted with its ranges.
            try db.create(table: "claim_handle") { table in
                table.column("transferID", .text).notNull()
                table.column("holder", .text).notNull()
                table.column("served", .text).notNull()
                table.column("leaseExpiresAt", .double).notNull()
                table.primaryKey(["transferID", "holder"])
            }
        }
        migrator.registerMigration("v7-statement-once") { db in
            // One acknowledgment and one declaration per transfer, held by
            // the database itself, so processes sharing this file (one per
            // session behind OpenSSH) cannot each record a first one. Older
            // entries are left out: a log may already hold a duplicate.
            let last = try Int64.fetchOne(db, sql: "SELECT coalesce(max(sequence), 0) FROM event") ?? 0
            try db.execute(
                sql: """
                    CREATE UNIQUE INDEX event_statement_once ON event (transferID, kind)
                    WHERE kind IN ('acknowledged', 'declared') AND sequence > \(last)
                    """)
        }
        return migrator
    }

    static func decode(_ row: Row) throws -> Transfer {
        guard let state = TransferState(rawValue: row["state"]) else {
            throw StoreError(.database, "a transfer has the unknown state \(String(describing: row["state"] as String?))")
        }
        return Transfer(
            id: row["id"], sender: row["sender"], recipient: row["recipient"], state: state, size: UInt64(row["size"] as Int64),
            ciphertextSHA256: row["sha256"], uploadedAt: Date(timeIntervalSince1970: row["uploadedAt"]),
            expiresAt: Date(timeIntervalSince1970: row["expiresAt"]), blob: row["blob"], claimedBy: row["claimedBy"],
            served: try decodeServed(row["served"]), endedAt: (row["endedAt"] as Double?).map(Date.init(timeIntervalSince1970:)),
            leaseExpiresAt: (row["leaseExpiresAt"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    /// Served ranges are stored as the JSON `ServedRanges` encodes to,
    /// `{"ranges":[[0,131072],...]}`. Every READ rewrites them, so this exact
    /// shape is read and written by hand (Foundation's JSON coders cost tens
    /// of microseconds a call); anything else goes through `JSONDecoder`.
    static func decodeServed(_ text: String) throws -> ServedRanges {
        if let fast = parseServed(Array(text.utf8)) { return fast }
        return try JSONDecoder().decode(ServedRanges.self, from: Data(text.utf8))
    }

    static func encode(_ served: ServedRanges) throws -> String {
        var text = "{\"ranges\":["
        for (index, range) in served.ranges.enumerated() {
            if index > 0 { text += "," }
            text += "[\(range.lowerBound),\(range.upperBound)]"
        }
        return text + "]}"
    }

    /// The strict form `encode` writes, or nil.
    static func parseServed(_ bytes: [UInt8]) -> ServedRanges? {
        let prefix = Array("{\"ranges\":[".utf8)
        guard bytes.count >= prefix.count + 2, bytes.starts(with: prefix), bytes.suffix(2) == [UInt8(ascii: "]"), UInt8(ascii: "}")] else { return nil }
        var index = prefix.count
        let end = bytes.count - 2
        func number() -> UInt64? {
            var value: UInt64 = 0
            let start = index
            while index < end, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[index] - 0x30))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                index += 1
            }
            return index > start ? value : nil
        }
        func expect(_ character: Character) -> Bool {
            guard index < end, bytes[index] == character.asciiValue! else { return false }
            index += 1
            return true
        }
        var ranges = [Range<UInt64>]()
        while index < end {
            if !ranges.isEmpty, !expect(",") { return nil }
            guard expect("["), let lower = number(), expect(","), let upper = number(), expect("]"), lower <= upper else { return nil }
            ranges.append(lower..<upper)
        }
        return ServedRanges(ranges)
    }

    static func insert(_ event: TransferEvent, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO event (time, kind, actor, source, transferID, size, sha256, expires, recipient, count, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                event.time.timeIntervalSince1970, event.kind.rawValue, event.actor, event.sourceAddress, event.transferID,
                event.size.map(Int64.init), event.ciphertextSHA256, event.expiresAt?.timeIntervalSince1970, event.recipient, event.count,
                event.detail,
            ])
        let sequence = db.lastInsertedRowID
        let entry = event.logEntry(sequence: sequence).encoded()
        try db.execute(
            sql: "UPDATE event SET entry = ?, leaf = ? WHERE sequence = ?", arguments: [Data(entry), Data(MerkleTree.leafHash(entry)), sequence])
    }

    /// The "deleted" entry that goes with every end of life, in the same
    /// transaction as the terminal state: the log never shows a transfer
    /// ended without its file going, nor the reverse.
    static func deletion(of transfer: Transfer, at now: Date, reason: String) -> TransferEvent {
        TransferEvent(
            time: now, kind: .deleted, actor: "server", sourceAddress: "", transferID: transfer.id, size: transfer.size,
            ciphertextSHA256: transfer.ciphertextSHA256, detail: reason)
    }
}
