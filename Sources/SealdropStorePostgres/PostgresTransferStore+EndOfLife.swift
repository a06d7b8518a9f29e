import Foundation
import PostgresNIO
import SealdropStore

/// Ends of life other than delivery: revocation, expiry and claims settled
/// after their handles lapsed. As in the claim path, one conditional
/// statement decides, and the entries (deletion included) commit with it.
extension PostgresTransferStore {
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
