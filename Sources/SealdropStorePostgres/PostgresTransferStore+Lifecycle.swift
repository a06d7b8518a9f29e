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

    /// SQL true when the claim on the row aliased `alias` has lapsed: its
    /// lease ran out, or the node holding it stopped beating (database clock).
    private func lapsed(_ alias: String, at date: Date) -> String {
        """
        (\(alias).lease_expires_at IS NULL OR \(alias).lease_expires_at <= \(now(date))
         OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = \(alias).claimed_node
                        AND n.heartbeat_at > extract(epoch from now())::float8 - (\(nodeTimeout))::float8))
        """
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

    public func claim(id: String, recipient: String, session: String, now date: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try pool.transaction { (link) throws(StoreError) -> Transfer in
            // The one arbiter. The FOR UPDATE sub-select queues racing
            // claimers on the row and reads its latest version, so the row
            // each returns is either the one it changed or none.
            let rows = try link.query(
                """
                UPDATE transfer t SET state = 'claimed', claimed_by = \(session), claimed_node = \(nodeID),
                    lease_expires_at = \(unescaped: now(date)) + \(claimLease)
                FROM (SELECT id, state, claimed_by FROM transfer WHERE id = \(id) FOR UPDATE) old
                WHERE t.id = old.id AND t.recipient = \(recipient) AND t.expires_at > \(unescaped: now(date)) AND NOT t.served_complete
                  AND (t.state = 'available' OR (t.state = 'claimed' AND (t.claimed_by = \(session) OR \(unescaped: lapsed("t", at: date)))))
                RETURNING \(unescaped: Self.transferColumns("t")), old.state, old.claimed_by
                """)
            guard let row = rows.first else {
                let current = try link.query(
                    "SELECT \(unescaped: Self.transferColumns()) FROM transfer WHERE id = \(id) AND recipient = \(recipient)"
                ).first.map(Self.decodeTransfer)
                guard let current else { throw StoreError(.notFound, "no transfer \(id) is waiting for you") }
                switch current.state {
                case .claimed where current.fullyServed:
                    throw StoreError(.notFound, "every byte of transfer \(id) was served; it is delivered and cannot be downloaded again")
                case .claimed:
                    throw StoreError(.alreadyClaimed, "transfer \(id) is being downloaded by another session; only one download at a time")
                case .available: throw StoreError(.expired, "transfer \(id) has expired")
                default: throw StoreError(.notFound, "transfer \(id) is no longer available (\(current.state.rawValue))")
                }
            }
            let claimed = try Self.decodeTransfer(row)
            let random = row.makeRandomAccess()
            let previousState = try? random[13].decode(String.self)
            let previousHolder = try? random[14].decode(String?.self)
            var recorded = event
            if previousState == TransferState.claimed.rawValue, previousHolder != session {
                let taken = "took over a lapsed claim with \(claimed.served.totalBytes) bytes served"
                recorded.detail = recorded.detail.isEmpty ? taken : recorded.detail + "; " + taken
            }
            try appendLog([recorded], link)
            return claimed
        }
    }

    public func renewClaim(id: String, session: String, now date: Date) throws(StoreError) -> Date {
        try pool.withConnection { (link) throws(StoreError) -> Date in
            let rows = try link.query(
                """
                UPDATE transfer SET lease_expires_at = \(unescaped: now(date)) + \(claimLease)
                WHERE id = \(id) AND state = 'claimed' AND claimed_by = \(session)
                RETURNING lease_expires_at
                """)
            guard let row = rows.first else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
            return Date(timeIntervalSince1970: try Self.value(row, as: Double.self))
        }
    }

    public func recordServed(id: String, session: String, ranges: ServedRanges, now date: Date) throws(StoreError) {
        // Called on every READ: two statements and no explicit transaction.
        // Only the holder writes `served`, so the compare-and-set below
        // almost never loses; when it does (a takeover), it is refused.
        try pool.withConnection { (link) throws(StoreError) in
            for _ in 0..<3 {
                guard
                    let row = try link.query("SELECT served, size FROM transfer WHERE id = \(id) AND state = 'claimed' AND claimed_by = \(session)")
                        .first
                else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
                let (text, size) = try Self.decode(row, as: (String, Int64).self)
                var served = try ServedRanges(storedText: text)
                for range in ranges.ranges { served.insert(range) }
                guard served.ranges.count <= ServedRanges.maximumRanges else {
                    throw StoreError(
                        .tooScattered,
                        "reads of transfer \(id) are scattered over more than \(ServedRanges.maximumRanges) separate ranges; read it from start to end")
                }
                let complete = served.covers(UInt64(clamping: size))
                // Only the record that completes the transfer must reach the
                // disk before the bytes leave (it is what stops a second
                // download). Partial progress commits without waiting for
                // the WAL flush: a database crash can lose the last few,
                // which costs a resume some re-sent bytes, never a download.
                // set_config(..., true) lasts for this statement's own transaction.
                let durability = complete ? "on" : "off"
                let changed = try link.run(
                    """
                    UPDATE transfer SET served = \(served.storedText), served_complete = \(complete), lease_expires_at = \(unescaped: now(date)) + \(claimLease)
                    FROM (SELECT set_config('synchronous_commit', \(durability), true)) durability
                    WHERE id = \(id) AND state = 'claimed' AND claimed_by = \(session) AND served = \(text)
                    """)
                if changed == 1 { return }
            }
            throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session")
        }
    }

    public func release(id: String, session: String, event: TransferEvent) throws(StoreError) {
        try pool.transaction { (link) throws(StoreError) in
            // A claim whose every byte went out is never given back: it waits
            // for delivery (at CLOSE, or by the sweep).
            let changed = try link.run(
                """
                UPDATE transfer SET state = 'available', claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL
                WHERE id = \(id) AND state = 'claimed' AND claimed_by = \(session) AND NOT served_complete
                """)
            if changed == 1 { try appendLog([event], link) }
        }
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer {
        try deliver(id: id, session: session, now: now, events: [event])
    }

    public func deliver(id: String, session: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer {
        try deliver(id: id, session: session, now: now, events: [event, deletion])
    }

    private func deliver(id: String, session: String, now date: Date, events: [TransferEvent]) throws(StoreError) -> Transfer {
        try pool.transaction { (link) throws(StoreError) -> Transfer in
            let rows = try link.query(
                """
                UPDATE transfer SET state = 'delivered', claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL,
                    served_complete = true, ended_at = \(unescaped: now(date))
                WHERE id = \(id) AND state = 'claimed' AND claimed_by = \(session) AND (served_complete OR size = 0)
                RETURNING \(unescaped: Self.transferColumns())
                """)
            guard let row = rows.first else {
                let held = try link.query(
                    "SELECT \(unescaped: Self.transferColumns()) FROM transfer WHERE id = \(id) AND state = 'claimed' AND claimed_by = \(session)"
                ).first.map(Self.decodeTransfer)
                guard let held else { throw StoreError(.notClaimed, "transfer \(id) is not claimed by this session") }
                throw StoreError(.incomplete, "transfer \(id) has \(held.served.totalBytes) of \(held.size) bytes served")
            }
            let delivered = try Self.decodeTransfer(row)
            try appendLog(events, link)
            return delivered
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
            let rows = try link.query(
                """
                UPDATE transfer t SET state = 'delivered', claimed_by = NULL, claimed_node = NULL, lease_expires_at = NULL, ended_at = \(unescaped: now(date))
                WHERE t.id IN (SELECT s.id FROM transfer s WHERE s.state = 'claimed' AND s.served_complete
                                 AND (NOT \(lapsedOnly) OR \(unescaped: lapsed("s", at: date)))
                               ORDER BY s.id LIMIT \(Int64(Self.sweepBatch)) FOR UPDATE SKIP LOCKED)
                  AND t.state = 'claimed' AND t.served_complete
                RETURNING \(unescaped: Self.transferColumns("t"))
                """)
            var settled = [Transfer]()
            for row in rows { settled.append(try Self.decodeTransfer(row)) }
            settled.sort { $0.id < $1.id }
            var events = [TransferEvent]()
            for transfer in settled {
                let at = transfer.endedAt ?? date
                events.append(
                    TransferEvent(
                        time: at, kind: .delivered, actor: "server", sourceAddress: "", transferID: transfer.id, size: transfer.size,
                        ciphertextSHA256: transfer.ciphertextSHA256,
                        detail: "every byte was served to \(transfer.recipient) but the session ended before CLOSE; settled as delivered"))
                events.append(Self.deletion(of: transfer, at: at, reason: "delivered"))
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
