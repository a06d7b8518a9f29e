import Foundation
import PostgresNIO
import SealdropStore

/// Claims, served bytes and ends of life: each change one conditional
/// statement whose returned row decides the winner, its log entries
/// appended last in the same transaction.
extension PostgresTransferStore {
    /// SQL for "now" in seconds: the caller's time as a literal (a Double
    /// prints exactly and can hold nothing but a number), or the database's.
    private func now(_ date: Date) -> String {
        guard let seconds = bound(date), seconds.isFinite else { return "extract(epoch from now())::float8" }
        return "(\(seconds))::float8"
    }

    public func publish(_ transfer: Transfer, event: TransferEvent) throws(StoreError) {
        let lifetime = transfer.expiresAt.timeIntervalSince(transfer.uploadedAt)
        let uploaded = bound(transfer.uploadedAt)
        try pool.transaction { (link) throws(StoreError) in
            // In database-clock mode the upload time is the database's and
            // the expiry keeps the lifetime the node chose.
            let rows = try link.query(
                """
                INSERT INTO transfer (id, sender, recipient, state, size, sha256, uploaded_at, expires_at, blob, served)
                SELECT \(transfer.id), \(transfer.sender), \(transfer.recipient), 'available', \(Int64(clamping: transfer.size)),
                       \(transfer.ciphertextSHA256), clock.now, clock.now + \(lifetime), \(transfer.blob), \(transfer.served.storedText)
                FROM (SELECT COALESCE(\(uploaded)::float8, extract(epoch from now())::float8) AS now) clock
                ON CONFLICT (id) DO NOTHING
                RETURNING expires_at
                """)
            guard let row = rows.first else {
                throw StoreError(.duplicateTransfer, "transfer \(transfer.id) was uploaded before; a replayed envelope is refused")
            }
            let expires = try Self.value(row, as: Double.self)
            var published = event
            if published.kind == .uploadPublished {
                published.recipient = transfer.recipient
                if published.expiresAt != nil { published.expiresAt = Date(timeIntervalSince1970: expires) }
            }
            try appendLog([published], link)
        }
    }

    // Downloads: one claim per recipient and transfer, shared by its open
    // handles (`claim_handle`, one per session), as in SQLite. Every change
    // to a claim first locks the transfer's row (`lockTransfer`), so the
    // changes to one transfer are serialised across nodes as SQLite's one
    // writer serialises them, and the row each statement returns decides.

    /// Locks `id`'s row for this transaction and returns it (nil: no such transfer).
    private func lockTransfer(_ id: String, _ link: PostgresLink) throws(StoreError) -> Transfer? {
        try link.query("SELECT \(unescaped: Self.transferColumns()) FROM transfer WHERE id = \(id) FOR UPDATE").first.map(Self.decodeTransfer)
    }

    private func openHandles(_ id: String, _ link: PostgresLink) throws(StoreError) -> Int {
        guard let row = try link.query("SELECT COUNT(*) FROM claim_handle WHERE transfer_id = \(id)").first else { return 0 }
        return Int(try Self.value(row, as: Int64.self))
    }

    /// SQL true when the handle aliased `alias` has lapsed: its lease ran
    /// out, or the node holding it stopped beating (database clock).
    private func handleLapsed(_ alias: String, at date: Date) -> String {
        """
        (\(alias).lease_expires_at <= \(now(date))
         OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = \(alias).node
                        AND n.heartbeat_at > extract(epoch from now())::float8 - (\(nodeTimeout))::float8))
        """
    }

    public func claim(id: String, recipient: String, session: String, now date: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try pool.transaction { (link) throws(StoreError) -> Transfer in
            let before = try lockTransfer(id, link)
            // One statement for the rest (BEGIN, lock, this, the log's two,
            // COMMIT: six round trips). With the row locked no other
            // transaction adds or removes this transfer's handles (every one
            // that does locks the row first; renewals only move leases), so
            // the statement's snapshot holds them all: the others still open
            // are those there less those this statement ends. Handles whose
            // lease ran out, or whose node died, end here, their ranges not
            // counted: nothing says their client kept those bytes.
            let rows = try link.query(
                """
                WITH lapsed AS (
                    DELETE FROM claim_handle h WHERE h.transfer_id = \(id) AND h.holder <> \(session) AND \(unescaped: handleLapsed("h", at: date))
                    RETURNING 1),
                claimed AS (
                    UPDATE transfer SET state = 'claimed', claimed_by = \(session), claimed_node = \(nodeID),
                        lease_expires_at = GREATEST(COALESCE(lease_expires_at, 0), \(unescaped: now(date)) + \(claimLease))
                    WHERE id = \(id) AND recipient = \(recipient) AND expires_at > \(unescaped: now(date)) AND NOT served_complete
                      AND state IN ('available', 'claimed')
                    RETURNING \(unescaped: Self.transferColumns())),
                handle AS (
                    INSERT INTO claim_handle (transfer_id, holder, node, served, lease_expires_at)
                    SELECT \(id), \(session), \(nodeID), \(ServedRanges().storedText), \(unescaped: now(date)) + \(claimLease) FROM claimed
                    ON CONFLICT (transfer_id, holder) DO UPDATE SET lease_expires_at = EXCLUDED.lease_expires_at, node = EXCLUDED.node
                    RETURNING 1)
                SELECT \(unescaped: Self.transferColumns("claimed")),
                    (SELECT COUNT(*) FROM lapsed) AS lapsed,
                    (SELECT COUNT(*) FROM claim_handle WHERE transfer_id = \(id) AND holder <> \(session)) - (SELECT COUNT(*) FROM lapsed) AS others,
                    (SELECT COUNT(*) FROM handle) AS added
                FROM claimed
                """)
            guard let row = rows.first else {
                guard let current = before, current.recipient == recipient else {
                    throw StoreError(.notFound, "no transfer \(id) is waiting for you")
                }
                switch current.state {
                case .claimed where current.fullyServed:
                    throw StoreError(.notFound, "every byte of transfer \(id) was received; it is being delivered and cannot be downloaded again")
                case .available, .claimed: throw StoreError(.expired, "transfer \(id) has expired")
                default: throw StoreError(.notFound, "transfer \(id) is no longer available (\(current.state.rawValue))")
                }
            }
            let claimed = try Self.decodeTransfer(row)
            let counts = row.makeRandomAccess()
            let (lapsed, others, added) = (try Self.count(counts, "lapsed"), try Self.count(counts, "others"), try Self.count(counts, "added"))
            guard added == 1 else { throw StoreError(.database, "the claim on transfer \(id) was taken but its handle was not recorded") }
            var notes = [String]()
            if lapsed > 0 { notes.append("\(lapsed) lapsed handle(s) ended without CLOSE; their reads do not count") }
            if others > 0 { notes.append("joins \(others) open handle(s) of the same recipient") }
            var recorded = event
            if !notes.isEmpty { recorded.detail = ([recorded.detail].filter { !$0.isEmpty } + notes).joined(separator: "; ") }
            try appendLog([recorded], link)
            return claimed
        }
    }

    /// A count column of a row, by name.
    private static func count(_ row: PostgresRandomAccessRow, _ column: String) throws(StoreError) -> Int64 {
        do {
            return try row[column].decode(Int64.self)
        } catch {
            throw StoreError(.database, "a row from the metadata database cannot be read: \(PostgresPool.describe(error))")
        }
    }

    public func renewClaim(id: String, session: String, now date: Date) throws(StoreError) -> Date {
        try pool.withConnection { (link) throws(StoreError) -> Date in
            // One statement: the handle's lease, and the claim's latest lease with it.
            let rows = try link.query(
                """
                WITH handle AS (
                    UPDATE claim_handle SET lease_expires_at = \(unescaped: now(date)) + \(claimLease), node = \(nodeID)
                    WHERE transfer_id = \(id) AND holder = \(session)
                      AND EXISTS (SELECT 1 FROM transfer WHERE id = \(id) AND state = 'claimed')
                    RETURNING lease_expires_at)
                UPDATE transfer t SET lease_expires_at = GREATEST(COALESCE(t.lease_expires_at, 0), handle.lease_expires_at)
                FROM handle WHERE t.id = \(id)
                RETURNING handle.lease_expires_at
                """)
            guard let row = rows.first else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            return Date(timeIntervalSince1970: try Self.value(row, as: Double.self))
        }
    }

    public func recordServed(id: String, session: String, ranges: ServedRanges, now date: Date) throws(StoreError) {
        // Called on every READ: two statements and no explicit transaction.
        // Only this session writes its handle's ranges, so the compare-and-set
        // below almost never loses; when it does, it reads again.
        try pool.withConnection { (link) throws(StoreError) in
            for _ in 0..<3 {
                guard
                    let row = try link.query(
                        """
                        SELECT h.served FROM claim_handle h JOIN transfer t ON t.id = h.transfer_id
                        WHERE h.transfer_id = \(id) AND h.holder = \(session) AND t.state = 'claimed' AND NOT t.served_complete
                        """
                    ).first
                else { throw StoreError.noMoreReads(id) }
                let text = try Self.value(row, as: String.self)
                var served = try ServedRanges(storedText: text)
                served.formUnion(ranges)
                guard served.ranges.count <= ServedRanges.maximumRanges else {
                    throw StoreError.tooScattered(id, acrossConnections: false)
                }
                // A handle's ranges count only at CLOSE (a committed, durable
                // transaction), so these records skip the wait for the WAL
                // flush: a database crash can lose the last few, which the
                // handle's client never relies on.
                let changed = try link.run(
                    """
                    WITH handle AS (
                        UPDATE claim_handle SET served = \(served.storedText), lease_expires_at = \(unescaped: now(date)) + \(claimLease)
                        FROM (SELECT set_config('synchronous_commit', 'off', true)) durability
                        WHERE transfer_id = \(id) AND holder = \(session) AND served = \(text)
                        RETURNING lease_expires_at)
                    UPDATE transfer t SET lease_expires_at = GREATEST(COALESCE(t.lease_expires_at, 0), handle.lease_expires_at)
                    FROM handle WHERE t.id = \(id)
                    """)
                if changed == 1 { return }
            }
            throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session")
        }
    }

    public func release(id: String, session: String, event: TransferEvent) throws(StoreError) {
        try pool.transaction { (link) throws(StoreError) in
            _ = try lockTransfer(id, link)
            let rows = try link.query("DELETE FROM claim_handle WHERE transfer_id = \(id) AND holder = \(session) RETURNING served")
            guard let row = rows.first else { return }
            let dropped = try ServedRanges(storedText: try Self.value(row, as: String.self)).totalBytes
            // The last handle gone: back to available, unless what CLOSEd
            // handles received covers the file (then the sweep delivers it).
            if try openHandles(id, link) == 0 {
                try link.run(
                    """
                    UPDATE transfer SET state = 'available', claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL
                    WHERE id = \(id) AND state = 'claimed' AND NOT served_complete
                    """)
            }
            var recorded = event
            let note = "ended without CLOSE; its \(dropped) bytes served do not count"
            recorded.detail = recorded.detail.isEmpty ? note : recorded.detail + "; " + note
            try appendLog([recorded], link)
        }
    }

    public func close(
        id: String, session: String, now: Date, delivered: TransferEvent, deletion: TransferEvent, released: TransferEvent
    ) throws(StoreError) -> Transfer {
        try pool.transaction { (link) throws(StoreError) -> Transfer in
            try closeHandle(id, session, now: now, events: (delivered, deletion, released), mustDeliver: false, link)
        }
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try pool.transaction { (link) throws(StoreError) -> Transfer in
            try closeHandle(id, session, now: now, events: (event, nil, nil), mustDeliver: true, link)
        }
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer {
        try pool.transaction { (link) throws(StoreError) -> Transfer in
            try closeHandle(id, session, now: now, events: (event, deletion, nil), mustDeliver: true, link)
        }
    }

    /// One handle's CLOSE in the caller's transaction: its ranges counted,
    /// the handle gone, then (if it was the last one) delivered or available.
    /// With `mustDeliver`, anything short of a delivery throws and the
    /// transaction rolls back, leaving the handle open.
    private func closeHandle(
        _ id: String, _ session: String, now date: Date, events: (delivered: TransferEvent, deletion: TransferEvent?, released: TransferEvent?),
        mustDeliver: Bool, _ link: PostgresLink
    ) throws(StoreError) -> Transfer {
        guard var transfer = try lockTransfer(id, link), transfer.state == .claimed,
            let handle = try link.query("DELETE FROM claim_handle WHERE transfer_id = \(id) AND holder = \(session) RETURNING served").first
        else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
        transfer.served.formUnion(try ServedRanges(storedText: try Self.value(handle, as: String.self)))
        guard transfer.served.ranges.count <= ServedRanges.maximumRanges else {
            throw StoreError.tooScattered(id, acrossConnections: true)
        }
        let others = try openHandles(id, link)
        let complete = transfer.fullyServed
        if mustDeliver, others > 0 || !complete {
            throw StoreError(
                .incomplete,
                others > 0
                    ? "transfer \(id) has \(others) other open handle(s)"
                    : "transfer \(id) has \(transfer.served.totalBytes) of \(transfer.size) bytes served")
        }
        let served = transfer.served.storedText
        if others == 0, complete {
            let rows = try link.query(
                """
                UPDATE transfer SET state = 'delivered', served = \(served), served_complete = true, claimed_by = NULL, claimed_node = NULL,
                    lease_expires_at = NULL, ended_at = \(unescaped: now(date))
                WHERE id = \(id) AND state = 'claimed'
                RETURNING \(unescaped: Self.transferColumns())
                """)
            guard let row = rows.first else { throw StoreError(.notClaimed, "transfer \(id) changed state during delivery") }
            try appendLog([events.delivered] + (events.deletion.map { [$0] } ?? []), link)
            return try Self.decodeTransfer(row)
        }
        if others == 0 {
            let rows = try link.query(
                """
                UPDATE transfer SET state = 'available', served = \(served), claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL
                WHERE id = \(id) AND state = 'claimed'
                RETURNING \(unescaped: Self.transferColumns())
                """)
            if let row = rows.first { transfer = try Self.decodeTransfer(row) }
        } else {
            // Counted but not yet delivered: once complete, no new handle may
            // join; the delivery waits for the open ones to CLOSE.
            try link.run("UPDATE transfer SET served = \(served), served_complete = \(complete) WHERE id = \(id) AND state = 'claimed'")
        }
        if var released = events.released {
            let note = others > 0 ? "CLOSEd with \(others) other handle(s) open" : "CLOSEd before every byte was received"
            released.detail = released.detail.isEmpty ? note : released.detail + "; " + note
            try appendLog([released], link)
        }
        return transfer
    }

    public func acknowledge(
        id: String, recipient: String, now date: Date, acknowledgment: TransferEvent, delivered: TransferEvent, deletion: TransferEvent
    ) throws(StoreError) -> Transfer? {
        try pool.transaction { (link) throws(StoreError) -> Transfer? in
            guard let transfer = try lockTransfer(id, link), transfer.recipient == recipient else {
                throw StoreError(.notFound, "you received no transfer \(id)")
            }
            if transfer.state == .delivered {
                try appendLog([acknowledgment], link)
                return nil
            }
            let rows = try link.query(
                """
                UPDATE transfer SET state = 'delivered', served_complete = true, claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL,
                    ended_at = \(unescaped: now(date))
                WHERE id = \(id) AND state IN ('available', 'claimed') AND expires_at > \(unescaped: now(date))
                RETURNING \(unescaped: Self.transferColumns())
                """)
            guard let row = rows.first else {
                throw StoreError(.notFound, "transfer \(id) is \(transfer.state.rawValue), not delivered to you")
            }
            try link.run("DELETE FROM claim_handle WHERE transfer_id = \(id)")
            try appendLog([delivered, deletion, acknowledgment], link)
            return try Self.decodeTransfer(row)
        }
    }

    public func revoke(id: String, sender: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try revoke(id: id, sender: sender, now: now, events: [event])
    }

    public func revoke(id: String, sender: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer {
        try revoke(id: id, sender: sender, now: now, events: [event, deletion])
    }

    private func revoke(id: String, sender: String, now date: Date, events: [TransferEvent]) throws(StoreError) -> Transfer {
        try pool.transaction { (link) throws(StoreError) -> Transfer in
            let rows = try link.query(
                """
                UPDATE transfer SET state = 'revoked', ended_at = \(unescaped: now(date))
                WHERE id = \(id) AND sender = \(sender) AND state = 'available'
                RETURNING \(unescaped: Self.transferColumns())
                """)
            guard let row = rows.first else {
                guard let state = try link.query("SELECT state FROM transfer WHERE id = \(id) AND sender = \(sender)").first else {
                    throw StoreError(.notFound, "you sent no transfer \(id)")
                }
                let name = try Self.value(state, as: String.self)
                throw StoreError(.notRevocable, "transfer \(id) is \(name) and can no longer be revoked")
            }
            let revoked = try Self.decodeTransfer(row)
            try appendLog(events, link)
            return revoked
        }
    }

    /// Transfers one sweep ends at most; the next sweep takes the rest.
    static let sweepBatch = 500

    public func expire(now date: Date) throws(StoreError) -> [Transfer] {
        try pool.transaction { (link) throws(StoreError) -> [Transfer] in
            // Every node sweeps; rows another node's sweep (or a claim) holds
            // are skipped, and each row changes state once, so each transfer
            // gets exactly one "expired" and one "deleted" entry.
            let rows = try link.query(
                """
                UPDATE transfer t SET state = 'expired', claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL, ended_at = \(unescaped: now(date))
                WHERE t.id IN (SELECT id FROM transfer WHERE state IN ('available', 'claimed') AND expires_at <= \(unescaped: now(date))
                               ORDER BY expires_at, id LIMIT \(Int64(Self.sweepBatch)) FOR UPDATE SKIP LOCKED)
                  AND t.state IN ('available', 'claimed')
                RETURNING \(unescaped: Self.transferColumns("t"))
                """)
            var expired = [Transfer]()
            for row in rows { expired.append(try Self.decodeTransfer(row)) }
            expired.sort { ($0.expiresAt, $0.id) < ($1.expiresAt, $1.id) }
            if !expired.isEmpty { try link.run("DELETE FROM claim_handle WHERE transfer_id = ANY(\(expired.map(\.id)))") }
            var events = [TransferEvent]()
            for transfer in expired {
                let at = transfer.endedAt ?? date
                events.append(
                    TransferEvent(
                        time: at, kind: .expired, actor: "server", sourceAddress: "", transferID: transfer.id, size: transfer.size,
                        ciphertextSHA256: transfer.ciphertextSHA256, detail: "expired at \(transfer.expiresAt)"))
                events.append(Self.deletion(of: transfer, at: at, reason: "expired"))
            }
            try appendLog(events, link)
            return expired
        }
    }

    public func settleServedClaims(now date: Date, lapsedOnly: Bool) throws(StoreError) -> [Transfer] {
        try pool.transaction { (link) throws(StoreError) -> [Transfer] in
            // Handles whose lease ran out or whose node died (with
            // `lapsedOnly` false, at start-up, every handle) end without
            // counting their ranges. Claims another node's sweep or session
            // holds are skipped and settled by a later sweep.
            let due = try link.query(
                """
                SELECT t.id FROM transfer t WHERE t.state = 'claimed'
                ORDER BY t.id LIMIT \(Int64(Self.sweepBatch)) FOR UPDATE SKIP LOCKED
                """)
            var ids = [String]()
            for row in due { ids.append(try Self.value(row, as: String.self)) }
            guard !ids.isEmpty else { return [] }
            try link.run(
                """
                DELETE FROM claim_handle h WHERE h.transfer_id = ANY(\(ids)) AND (NOT \(lapsedOnly) OR \(unescaped: handleLapsed("h", at: date)))
                """)
            // Claims left with no open handle: delivered if what was counted
            // covers the file, else available again.
            let rows = try link.query(
                """
                SELECT \(unescaped: Self.transferColumns("t")) FROM transfer t
                WHERE t.id = ANY(\(ids)) AND NOT EXISTS (SELECT 1 FROM claim_handle h WHERE h.transfer_id = t.id)
                ORDER BY t.id
                """)
            var settled = [Transfer]()
            var events = [TransferEvent]()
            for row in rows {
                let transfer = try Self.decodeTransfer(row)
                guard transfer.fullyServed else {
                    try link.run(
                        """
                        UPDATE transfer SET state = 'available', claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL, served_complete = false
                        WHERE id = \(transfer.id) AND state = 'claimed'
                        """)
                    events.append(
                        TransferEvent(
                            time: date, kind: .released, actor: "server", sourceAddress: "", transferID: transfer.id,
                            detail: "its handles ended without CLOSE (lease lapsed or server restarted); their reads do not count"))
                    continue
                }
                let ended = try link.query(
                    """
                    UPDATE transfer SET state = 'delivered', claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL, served_complete = true,
                        ended_at = \(unescaped: now(date))
                    WHERE id = \(transfer.id) AND state = 'claimed'
                    RETURNING \(unescaped: Self.transferColumns())
                    """)
                guard let endedRow = ended.first else { continue }
                let delivered = try Self.decodeTransfer(endedRow)
                events.append(
                    TransferEvent(
                        time: delivered.endedAt ?? date, kind: .delivered, actor: "server", sourceAddress: "", transferID: delivered.id,
                        size: delivered.size, ciphertextSHA256: delivered.ciphertextSHA256,
                        detail: "every byte was received by \(delivered.recipient) on CLOSEd handles; settled as delivered"))
                events.append(Self.deletion(of: delivered, at: delivered.endedAt ?? date, reason: "delivered"))
                settled.append(delivered)
            }
            try appendLog(events, link)
            return settled
        }
    }

    /// The "deleted" entry that goes with every end of life, in the same transaction.
    static func deletion(of transfer: Transfer, at now: Date, reason: String) -> TransferEvent {
        TransferEvent(
            time: now, kind: .deleted, actor: "server", sourceAddress: "", transferID: transfer.id, size: transfer.size,
            ciphertextSHA256: transfer.ciphertextSHA256, detail: reason)
    }
}
