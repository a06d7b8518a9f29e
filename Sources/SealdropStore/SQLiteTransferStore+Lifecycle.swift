import Foundation
import GRDB

/// Claims, served bytes and ends of life: each change one conditional
/// UPDATE, its log entries in the same transaction.
extension SQLiteTransferStore {
    public func claim(id: String, recipient: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try write { db in
            let before = try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ? AND recipient = ?", arguments: [id, recipient]).map(Self.decode)
            // Handles whose lease ran out end here, their ranges not counted:
            // nothing says their client kept those bytes.
            try db.execute(
                sql: "DELETE FROM claim_handle WHERE transferID = ? AND holder != ? AND leaseExpiresAt <= ?",
                arguments: [id, session, now.timeIntervalSince1970])
            let lapsed = db.changesCount
            let lease = now.addingTimeInterval(claimLease).timeIntervalSince1970
            // The one arbiter: the recipient's claim is joined by each of its
            // handles until the ranges counted (CLOSEd handles) cover the file.
            try db.execute(
                sql: """
                    UPDATE transfer SET state = 'claimed', claimedBy = ?, leaseExpiresAt = MAX(COALESCE(leaseExpiresAt, 0), ?)
                    WHERE id = ? AND recipient = ? AND expiresAt > ? AND servedComplete = 0 AND state IN ('available', 'claimed')
                    """,
                arguments: [session, lease, id, recipient, now.timeIntervalSince1970])
            guard db.changesCount == 1 else {
                guard let current = before else { throw StoreError(.notFound, "no transfer \(id) is waiting for you") }
                switch current.state {
                case .claimed where current.fullyServed:
                    throw StoreError(.notFound, "every byte of transfer \(id) was received; it is being delivered and cannot be downloaded again")
                case .available, .claimed: throw StoreError(.expired, "transfer \(id) has expired")
                default: throw StoreError(.notFound, "transfer \(id) is no longer available (\(current.state.rawValue))")
                }
            }
            try db.execute(
                sql: """
                    INSERT INTO claim_handle (transferID, holder, served, leaseExpiresAt) VALUES (?, ?, ?, ?)
                    ON CONFLICT (transferID, holder) DO UPDATE SET leaseExpiresAt = excluded.leaseExpiresAt
                    """,
                arguments: [id, session, try Self.encode(ServedRanges()), lease])
            let others = try Self.openHandles(id, db) - 1
            var notes = [String]()
            if lapsed > 0 { notes.append("\(lapsed) lapsed handle(s) ended without CLOSE; their reads do not count") }
            if others > 0 { notes.append("joins \(others) open handle(s) of the same recipient") }
            var recorded = event
            if !notes.isEmpty { recorded.detail = ([recorded.detail].filter { !$0.isEmpty } + notes).joined(separator: "; ") }
            try Self.insert(recorded, db)
            return try Self.decode(try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ?", arguments: [id])!)
        }
    }

    public func renewClaim(id: String, session: String, now: Date) throws(StoreError) -> Date {
        let until = now.addingTimeInterval(claimLease)
        return try write { db in
            try db.execute(
                sql: "UPDATE claim_handle SET leaseExpiresAt = ? WHERE transferID = ? AND holder = ?",
                arguments: [until.timeIntervalSince1970, id, session])
            guard db.changesCount == 1 else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            try db.execute(
                sql: "UPDATE transfer SET leaseExpiresAt = MAX(COALESCE(leaseExpiresAt, 0), ?) WHERE id = ? AND state = 'claimed'",
                arguments: [until.timeIntervalSince1970, id])
            guard db.changesCount == 1 else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            return until
        }
    }

    public func recordServed(id: String, session: String, ranges: ServedRanges, now: Date) throws(StoreError) {
        try write { db in
            // Called on every READ: cached statements, and only the columns needed.
            let select = try db.cachedStatement(
                sql: """
                    SELECT h.served FROM claim_handle h JOIN transfer t ON t.id = h.transferID
                    WHERE h.transferID = ? AND h.holder = ? AND t.state = 'claimed' AND t.servedComplete = 0
                    """)
            // Once CLOSEd handles cover the file, the recipient has had every
            // byte: a handle still open gets no more copies of it.
            guard let row = try Row.fetchOne(select, arguments: [id, session])
            else { throw StoreError.noMoreReads(id) }
            var served = try Self.decodeServed(row["served"])
            served.formUnion(ranges)
            guard served.ranges.count <= ServedRanges.maximumRanges else {
                throw StoreError.tooScattered(id, acrossConnections: false)
            }
            let lease = now.addingTimeInterval(claimLease).timeIntervalSince1970
            let update = try db.cachedStatement(sql: "UPDATE claim_handle SET served = ?, leaseExpiresAt = ? WHERE transferID = ? AND holder = ?")
            try update.execute(arguments: [try Self.encode(served), lease, id, session])
            guard db.changesCount == 1 else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            let renew = try db.cachedStatement(sql: "UPDATE transfer SET leaseExpiresAt = MAX(COALESCE(leaseExpiresAt, 0), ?) WHERE id = ?")
            try renew.execute(arguments: [lease, id])
        }
    }

    public func release(id: String, session: String, event: TransferEvent) throws(StoreError) {
        try write { db in
            let handle = try Row.fetchOne(db, sql: "SELECT served FROM claim_handle WHERE transferID = ? AND holder = ?", arguments: [id, session])
            guard let handle else { return }
            try db.execute(sql: "DELETE FROM claim_handle WHERE transferID = ? AND holder = ?", arguments: [id, session])
            let dropped = try Self.decodeServed(handle["served"]).totalBytes
            // The last handle gone: back to available, unless what CLOSEd
            // handles received covers the file (then the sweep delivers it).
            if try Self.openHandles(id, db) == 0 {
                try db.execute(
                    sql:
                        "UPDATE transfer SET state = 'available', claimedBy = NULL, leaseExpiresAt = NULL WHERE id = ? AND state = 'claimed' AND servedComplete = 0",
                    arguments: [id])
            }
            var recorded = event
            let note = "ended without CLOSE; its \(dropped) bytes served do not count"
            recorded.detail = recorded.detail.isEmpty ? note : recorded.detail + "; " + note
            try Self.insert(recorded, db)
        }
    }

    public func close(
        id: String, session: String, now: Date, delivered: TransferEvent, deletion: TransferEvent, released: TransferEvent
    ) throws(StoreError) -> Transfer {
        try write { db in try Self.closeHandle(id, session, now: now, events: (delivered, deletion, released), mustDeliver: false, db) }
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try write { db in try Self.closeHandle(id, session, now: now, events: (event, nil, nil), mustDeliver: true, db) }
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer {
        try write { db in try Self.closeHandle(id, session, now: now, events: (event, deletion, nil), mustDeliver: true, db) }
    }

    /// One handle's CLOSE in the caller's transaction: its ranges counted,
    /// the handle gone, then (if it was the last one) delivered or available.
    /// With `mustDeliver`, anything short of a delivery throws and the
    /// transaction rolls back, leaving the handle open.
    private static func closeHandle(
        _ id: String, _ session: String, now: Date, events: (delivered: TransferEvent, deletion: TransferEvent?, released: TransferEvent?),
        mustDeliver: Bool, _ db: Database
    ) throws -> Transfer {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT t.*, h.served AS handleServed FROM transfer t JOIN claim_handle h ON h.transferID = t.id
                    WHERE t.id = ? AND h.holder = ? AND t.state = 'claimed'
                    """,
                arguments: [id, session])
        else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
        var transfer = try decode(row)
        transfer.served.formUnion(try decodeServed(row["handleServed"]))
        guard transfer.served.ranges.count <= ServedRanges.maximumRanges else {
            throw StoreError.tooScattered(id, acrossConnections: true)
        }
        try db.execute(sql: "DELETE FROM claim_handle WHERE transferID = ? AND holder = ?", arguments: [id, session])
        let others = try openHandles(id, db)
        let complete = transfer.fullyServed
        if mustDeliver, others > 0 || !complete {
            throw StoreError(
                .incomplete,
                others > 0
                    ? "transfer \(id) has \(others) other open handle(s)"
                    : "transfer \(id) has \(transfer.served.totalBytes) of \(transfer.size) bytes served")
        }
        let served = try encode(transfer.served)
        if others == 0, complete {
            try db.execute(
                sql: """
                    UPDATE transfer SET state = 'delivered', served = ?, servedComplete = 1, claimedBy = NULL, leaseExpiresAt = NULL, endedAt = ?
                    WHERE id = ? AND state = 'claimed'
                    """,
                arguments: [served, now.timeIntervalSince1970, id])
            try insert(events.delivered, db)
            if let deletion = events.deletion { try insert(deletion, db) }
            CrashPoint.deliverInTransaction.reached()
            transfer.state = .delivered
            transfer.endedAt = now
            transfer.claimedBy = nil
            transfer.leaseExpiresAt = nil
            return transfer
        }
        if others == 0 {
            try db.execute(
                sql: "UPDATE transfer SET state = 'available', served = ?, claimedBy = NULL, leaseExpiresAt = NULL WHERE id = ? AND state = 'claimed'",
                arguments: [served, id])
            transfer.state = .available
            transfer.claimedBy = nil
            transfer.leaseExpiresAt = nil
        } else {
            // Counted but not yet delivered: once complete, no new handle may
            // join; the delivery waits for the open ones to CLOSE.
            try db.execute(
                sql: "UPDATE transfer SET served = ?, servedComplete = ? WHERE id = ? AND state = 'claimed'", arguments: [served, complete ? 1 : 0, id])
        }
        if var released = events.released {
            let note = others > 0 ? "CLOSEd with \(others) other handle(s) open" : "CLOSEd before every byte was received"
            released.detail = released.detail.isEmpty ? note : released.detail + "; " + note
            try insert(released, db)
        }
        return transfer
    }

    public func acknowledge(
        id: String, recipient: String, now: Date, acknowledgment: TransferEvent, delivered: TransferEvent, deletion: TransferEvent
    ) throws(StoreError) -> Transfer? {
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM transfer WHERE id = ? AND recipient = ?", arguments: [id, recipient]) else {
                throw StoreError(.notFound, "you received no transfer \(id)")
            }
            var transfer = try Self.decode(row)
            switch transfer.state {
            case .delivered:
                try Self.insert(acknowledgment, db)
                return nil
            case .available where transfer.expiresAt > now, .claimed where transfer.expiresAt > now:
                try db.execute(
                    sql: """
                        UPDATE transfer SET state = 'delivered', servedComplete = 1, claimedBy = NULL, leaseExpiresAt = NULL, endedAt = ?
                        WHERE id = ? AND state IN ('available', 'claimed')
                        """,
                    arguments: [now.timeIntervalSince1970, id])
                guard db.changesCount == 1 else { throw StoreError(.notFound, "transfer \(id) changed state during its acknowledgment") }
                try db.execute(sql: "DELETE FROM claim_handle WHERE transferID = ?", arguments: [id])
                try Self.insert(delivered, db)
                try Self.insert(deletion, db)
                try Self.insert(acknowledgment, db)
                transfer.state = .delivered
                transfer.endedAt = now
                transfer.claimedBy = nil
                transfer.leaseExpiresAt = nil
                return transfer
            default:
                throw StoreError(.notFound, "transfer \(id) is \(transfer.state.rawValue), not delivered to you")
            }
        }
    }

    /// Handles of `id` still open (on any session, any node).
    static func openHandles(_ id: String, _ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM claim_handle WHERE transferID = ?", arguments: [id]) ?? 0
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
                try db.execute(sql: "DELETE FROM claim_handle WHERE transferID = ?", arguments: [transfer.id])
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
            // Handles whose lease ran out (at start-up, every handle: no
            // session survived) end without counting their ranges.
            try db.execute(
                sql: "DELETE FROM claim_handle WHERE ? = 0 OR leaseExpiresAt <= ?", arguments: [lapsedOnly ? 1 : 0, now.timeIntervalSince1970])
            let due = try Row.fetchAll(
                db,
                sql: "SELECT * FROM transfer t WHERE state = 'claimed' AND NOT EXISTS (SELECT 1 FROM claim_handle h WHERE h.transferID = t.id)"
            ).map(Self.decode)
            var settled = [Transfer]()
            for var transfer in due {
                guard transfer.fullyServed else {
                    // Nothing counted covers the file: the recipient may download it again.
                    try db.execute(
                        sql:
                            "UPDATE transfer SET state = 'available', claimedBy = NULL, leaseExpiresAt = NULL, servedComplete = 0 WHERE id = ? AND state = 'claimed'",
                        arguments: [transfer.id])
                    try Self.insert(
                        TransferEvent(
                            time: now, kind: .released, actor: "server", sourceAddress: "", transferID: transfer.id,
                            detail: "its handles ended without CLOSE (lease lapsed or server restarted); their reads do not count"),
                        db)
                    continue
                }
                try db.execute(
                    sql: """
                        UPDATE transfer SET state = 'delivered', claimedBy = NULL, leaseExpiresAt = NULL, servedComplete = 1, endedAt = ?
                        WHERE id = ? AND state = 'claimed'
                        """,
                    arguments: [now.timeIntervalSince1970, transfer.id])
                guard db.changesCount == 1 else { continue }
                try Self.insert(
                    TransferEvent(
                        time: now, kind: .delivered, actor: "server", sourceAddress: "", transferID: transfer.id, size: transfer.size,
                        ciphertextSHA256: transfer.ciphertextSHA256,
                        detail: "every byte was received by \(transfer.recipient) on CLOSEd handles; settled as delivered"),
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
