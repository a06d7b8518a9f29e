import Foundation
import GRDB
import SealdropLog

/// Backup and the steps of a restore, on the SQLite store. A backup is a
/// consistent copy taken while the server runs; a restore is decided by
/// the server (`DropBox.restore`) and applied here, each step one
/// transaction.
extension SQLiteTransferStore {
    /// Copies the whole database to `path` with SQLite's online backup API
    /// (GRDB `backup(to:)`): a consistent snapshot, taken while sessions
    /// keep writing. Written beside `path` and renamed into place, mode
    /// 0600, so `path` is either the previous file or a complete backup.
    /// Returns the number of log entries the backup holds.
    @discardableResult
    public func backup(to path: String) throws(StoreError) -> Int {
        let partial = path + ".partial"
        unlink(partial)
        do {
            let fd = open(partial, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw StoreError(.database, "cannot create \(partial): \(String(cString: strerror(errno)))") }
            Glibc.close(fd)
            let copy = try DatabaseQueue(path: partial)
            try pool.backup(to: copy)
            let entries = try copy.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0 }
            try copy.close()
            guard rename(partial, path) == 0 else { throw StoreError(.database, "cannot rename \(partial) to \(path): \(String(cString: strerror(errno)))") }
            return entries
        } catch let error as StoreError {
            unlink(partial)
            throw error
        } catch {
            unlink(partial)
            throw StoreError(.database, "the backup to \(path) failed: \(error)")
        }
    }

    /// Every transfer still pending (available or claimed).
    public func pendingTransfers() throws(StoreError) -> [Transfer] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM transfer WHERE state IN ('available', 'claimed') ORDER BY id").map(Self.decode) }
    }

    /// Every transfer, whatever its state.
    public func allTransfers() throws(StoreError) -> [Transfer] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM transfer ORDER BY id").map(Self.decode) }
    }

    /// Restore: appends entries of the same log verbatim (their bytes and
    /// sequence numbers as the log holds them), continuing this database's
    /// log without a gap. Refuses an entry that does not decode or whose
    /// sequence is not the next one.
    public func appendVerbatim(_ entries: [[UInt8]]) throws(StoreError) {
        try write { db in
            var next = (try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) FROM event") ?? 0) + 1
            for bytes in entries {
                let entry: LogEntry
                do {
                    entry = try LogEntry(decoding: bytes)
                } catch {
                    throw StoreError(.database, "log entry \(next) does not decode: \(error)")
                }
                guard entry.sequence == next else { throw StoreError(.database, "log entry \(entry.sequence) does not follow entry \(next - 1)") }
                try db.execute(
                    sql: """
                        INSERT INTO event (sequence, time, kind, actor, source, transferID, size, sha256, expires, recipient, count, detail, entry, leaf)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        entry.sequence, Double(entry.time) / 1000, entry.kind.rawValue, entry.actor, entry.source, entry.transfer,
                        entry.size.map(Int64.init), entry.sha256, entry.expires.map { Double($0) / 1000 }, entry.recipient, entry.count,
                        entry.detail, Data(bytes), Data(MerkleTree.leafHash(bytes)),
                    ])
                next += 1
            }
        }
    }

    /// Restore: puts `transfers` in as they are (rows of a newer database
    /// replace the backup's), with their served bytes and claims.
    public func adopt(_ transfers: [Transfer]) throws(StoreError) {
        try write { db in
            for transfer in transfers {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO transfer
                          (id, sender, recipient, state, size, sha256, uploadedAt, expiresAt, blob, claimedBy, served, endedAt, leaseExpiresAt, servedComplete)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        transfer.id, transfer.sender, transfer.recipient, transfer.state.rawValue, Int64(transfer.size), transfer.ciphertextSHA256,
                        transfer.uploadedAt.timeIntervalSince1970, transfer.expiresAt.timeIntervalSince1970, transfer.blob, transfer.claimedBy,
                        try Self.encode(transfer.served), transfer.endedAt?.timeIntervalSince1970, transfer.leaseExpiresAt?.timeIntervalSince1970,
                        transfer.fullyServed ? 1 : 0,
                    ])
            }
        }
    }

    /// Restore: ends a transfer whatever its state: `state` and `endedAt`
    /// set, the claim dropped, `events` (its end, if the log does not
    /// already hold it) recorded in the same transaction.
    public func endForRestore(id: String, state: TransferState, at time: Date, events: [TransferEvent]) throws(StoreError) {
        try write { db in
            try db.execute(
                sql: "UPDATE transfer SET state = ?, endedAt = ?, claimedBy = NULL, leaseExpiresAt = NULL WHERE id = ?",
                arguments: [state.rawValue, time.timeIntervalSince1970, id])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no transfer \(id) in the restored database") }
            for event in events { try Self.insert(event, db) }
        }
    }

    /// Moves every committed change into the database file itself (an
    /// empty write-ahead log left) and closes it, so that the one file can
    /// be moved into place.
    public func close() throws(StoreError) {
        do {
            _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            try pool.close()
        } catch {
            throw StoreError(.database, "cannot close the metadata database: \(error)")
        }
    }
}
