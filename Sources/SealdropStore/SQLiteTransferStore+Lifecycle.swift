import Foundation
import GRDB

/// Claims, served bytes and ends of life: each change one conditional
/// UPDATE, its log entries in the same transaction.
extension SQLiteTransferStore {
    public func claim(id: String, recipient: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try write { db in
            let before = try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ? AND recipient = ?", arguments: [id, recipient]).map(Self.decode)
            // The one arbiter: whoever changes the row holds the claim. A claim
            // whose lease ran out is taken over (its served ranges kept, for a
            // resume); one whose every byte went out never is.
            try db.execute(
                sql: """
                    UPDATE transfer SET state = 'claimed', claimedBy = ?, leaseExpiresAt = ?
                    WHERE id = ? AND recipient = ? AND expiresAt > ? AND servedComplete = 0
                      AND (state = 'available'
                           OR (state = 'claimed' AND (claimedBy = ? OR leaseExpiresAt IS NULL OR leaseExpiresAt <= ?)))
                    """,
                arguments: [
                    session, now.addingTimeInterval(claimLease).timeIntervalSince1970, id, recipient, now.timeIntervalSince1970, session,
                    now.timeIntervalSince1970,
                ])
            guard db.changesCount == 1 else {
                guard let current = before else { throw StoreError(.notFound, "no transfer \(id) is waiting for you") }
                switch current.state {
                case .claimed where current.fullyServed:
                    throw StoreError(.notFound, "every byte of transfer \(id) was served; it is delivered and cannot be downloaded again")
                case .claimed:
                    throw StoreError(.alreadyClaimed, "transfer \(id) is being downloaded by another session; only one download at a time")
                case .available: throw StoreError(.expired, "transfer \(id) has expired")
                default: throw StoreError(.notFound, "transfer \(id) is no longer available (\(current.state.rawValue))")
                }
            }
            var recorded = event
            if let before, before.state == .claimed, before.claimedBy != session {
                let taken = "took over a lapsed claim with \(before.served.totalBytes) bytes served"
                recorded.detail = recorded.detail.isEmpty ? taken : recorded.detail + "; " + taken
            }
            try Self.insert(recorded, db)
            return try Self.decode(try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ?", arguments: [id])!)
        }
    }

    public func renewClaim(id: String, session: String, now: Date) throws(StoreError) -> Date {
        let until = now.addingTimeInterval(claimLease)
        return try write { db in
            try db.execute(
                sql: "UPDATE transfer SET leaseExpiresAt = ? WHERE id = ? AND state = 'claimed' AND claimedBy = ?",
                arguments: [until.timeIntervalSince1970, id, session])
            guard db.changesCount == 1 else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            return until
        }
    }

    public func recordServed(id: String, session: String, ranges: ServedRanges, now: Date) throws(StoreError) {
        try write { db in
            // Called on every READ: cached statements, and only the two columns needed.
            let select = try db.cachedStatement(sql: "SELECT served, size FROM transfer WHERE id = ? AND state = 'claimed' AND claimedBy = ?")
            guard let row = try Row.fetchOne(select, arguments: [id, session])
            else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            var served = try Self.decodeServed(row["served"])
            for range in ranges.ranges { served.insert(range) }
            guard served.ranges.count <= ServedRanges.maximumRanges else {
                throw StoreError(
                    .tooScattered,
                    "reads of transfer \(id) are scattered over more than \(ServedRanges.maximumRanges) separate ranges; read it from start to end")
            }
            let complete = served.covers(UInt64(row["size"] as Int64))
            let update = try db.cachedStatement(
                sql: "UPDATE transfer SET served = ?, servedComplete = ?, leaseExpiresAt = ? WHERE id = ? AND state = 'claimed' AND claimedBy = ?")
            try update.execute(arguments: [
                try Self.encode(served), complete ? 1 : 0, now.addingTimeInterval(claimLease).timeIntervalSince1970, id, session,
            ])
            guard db.changesCount == 1 else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
        }
    }

    public func release(id: String, session: String, event: TransferEvent) throws(StoreError) {
        try write { db in
            // A claim whose every byte went out is never given back: it waits
            // for delivery (at CLOSE, or by the sweep).
            try db.execute(
                sql: """
                    UPDATE transfer SET state = 'available', claimedBy = NULL, leaseExpiresAt = NULL
                    WHERE id = ? AND state = 'claimed' AND claimedBy = ? AND servedComplete = 0
                    """,
                arguments: [id, session])
            if db.changesCount == 1 { try Self.insert(event, db) }
        }
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try deliver(id: id, session: session, now: now, events: [event])
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer {
        try deliver(id: id, session: session, now: now, events: [event, deletion])
    }

    private func deliver(id: String, session: String, now: Date, events: [TransferEvent]) throws(StoreError) -> Transfer {
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ? AND state = 'claimed' AND claimedBy = ?", arguments: [id, session])
            else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            var transfer = try Self.decode(row)
            guard transfer.fullyServed else {
                throw StoreError(.incomplete, "transfer \(id) has \(transfer.served.totalBytes) of \(transfer.size) bytes served")
            }
            try db.execute(
                sql: """
                    UPDATE transfer SET state = 'delivered', claimedBy = NULL, leaseExpiresAt = NULL, servedComplete = 1, endedAt = ?
                    WHERE id = ? AND state = 'claimed' AND claimedBy = ?
                    """,
                arguments: [now.timeIntervalSince1970, id, session])
            guard db.changesCount == 1 else { throw StoreError(.notClaimed, "transfer \(id) changed state during delivery") }
            for event in events { try Self.insert(event, db) }
            CrashPoint.deliverInTransaction.reached()
            transfer.state = .delivered
            transfer.endedAt = now
            transfer.claimedBy = nil
            transfer.leaseExpiresAt = nil
            return transfer
        }
    }

    public func revoke(id: String, sender: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try revoke(id: id, sender: sender, now: now, events: [event])
    }

    public func revoke(id: String, sender: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer {
        try revoke(id: id, sender: sender, now: now, events: [event, deletion])
    }

    private func revoke(id: String, sender: String, now: Date, events: [TransferEvent]) throws(StoreError) -> Transfer {
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
            for event in events { try Self.insert(event, db) }
            CrashPoint.revokeInTransaction.reached()
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
                    sql: """
                        UPDATE transfer SET state = 'expired', claimedBy = NULL, leaseExpiresAt = NULL, endedAt = ?
                        WHERE id = ? AND state IN ('available', 'claimed')
                        """,
                    arguments: [now.timeIntervalSince1970, transfer.id])
                guard db.changesCount == 1 else { continue }
                transfer.state = .expired
                transfer.endedAt = now
                try Self.insert(
                    TransferEvent(
                        time: now, kind: .expired, actor: "server", sourceAddress: "", transferID: transfer.id,
                        size: transfer.size, ciphertextSHA256: transfer.ciphertextSHA256, detail: "expired at \(transfer.expiresAt)"),
                    db)
                try Self.insert(Self.deletion(of: transfer, at: now, reason: "expired"), db)
                expired.append(transfer)
            }
            CrashPoint.expireInTransaction.reached(when: !expired.isEmpty)
            return expired
        }
    }

    public func settleServedClaims(now: Date, lapsedOnly: Bool) throws(StoreError) -> [Transfer] {
        try write { db in
            let due = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM transfer WHERE state = 'claimed' AND servedComplete = 1
                      AND (? = 0 OR leaseExpiresAt IS NULL OR leaseExpiresAt <= ?)
                    """,
                arguments: [lapsedOnly ? 1 : 0, now.timeIntervalSince1970]
            ).map(Self.decode)
            var settled = [Transfer]()
            for var transfer in due {
                try db.execute(
                    sql: """
                        UPDATE transfer SET state = 'delivered', claimedBy = NULL, leaseExpiresAt = NULL, endedAt = ?
                        WHERE id = ? AND state = 'claimed' AND servedComplete = 1 AND claimedBy IS ?
                        """,
                    arguments: [now.timeIntervalSince1970, transfer.id, transfer.claimedBy])
                guard db.changesCount == 1 else { continue }
                try Self.insert(
                    TransferEvent(
                        time: now, kind: .delivered, actor: "server", sourceAddress: "", transferID: transfer.id, size: transfer.size,
                        ciphertextSHA256: transfer.ciphertextSHA256,
                        detail: "every byte was served to \(transfer.recipient) but the session ended before CLOSE; settled as delivered"),
                    db)
                try Self.insert(Self.deletion(of: transfer, at: now, reason: "delivered"), db)
                transfer.state = .delivered
                transfer.endedAt = now
                transfer.claimedBy = nil
                transfer.leaseExpiresAt = nil
                settled.append(transfer)
            }
            return settled
        }
    }
}
