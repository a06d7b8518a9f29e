import Foundation
import SealdropStore
import SealdropTrust

/// The ends of a transfer's life and the sweep. Every end commits its
/// terminal state and its "deleted" entry in one transaction, then unlinks
/// the blob: a crash in between leaves an orphan file, which the next sweep
/// removes and logs, never a deleted file the log does not show.
extension DropBox {
    /// How old a blob with no pending transfer must be before the periodic
    /// sweep removes it: a published blob is renamed into place a moment
    /// before its row is committed, and must not be taken for an orphan.
    static let orphanMinimumAge: TimeInterval = 60

    /// A download handle's CLOSE: its served ranges counted, and if it was
    /// the claim's last open handle, `claimed → delivered` with its
    /// "delivered" and "deleted" entries in one transaction when the counted
    /// ranges cover the file (then the blob unlinked), else back to available.
    /// If the transfer was delivered meanwhile (acknowledged, or settled by
    /// the sweep), that delivery is returned.
    public func closeDownload(id: String, session: String, actor: String, source: String, now: Date = Date()) throws(StoreError) -> Transfer {
        do {
            let current = try store.transfer(id: id)
            let ended = try store.close(
                id: id, session: session, now: now,
                delivered: TransferEvent(
                    time: now, kind: .delivered, actor: actor, sourceAddress: source, transferID: id, size: current?.size,
                    ciphertextSHA256: current?.ciphertextSHA256),
                deletion: TransferEvent(
                    time: now, kind: .deleted, actor: actor, sourceAddress: source, transferID: id, size: current?.size,
                    ciphertextSHA256: current?.ciphertextSHA256, detail: "delivered"),
                released: TransferEvent(time: now, kind: .released, actor: actor, sourceAddress: source, transferID: id))
            if ended.state == .delivered {
                metrics.delivered(afterWaiting: now.timeIntervalSince(ended.uploadedAt))
                CrashPoint.deliverCommitted.reached()
                blobs.delete(ended.blob)
                CrashPoint.deliverUnlinked.reached()
                log("\(actor) received transfer \(id); its blob is deleted")
                keepLogHeadAfterEnd(now: now)
            }
            return ended
        } catch let error where error.code == .notClaimed {
            if let settled = try store.transfer(id: id), settled.state == .delivered { return settled }
            throw error
        }
    }

    /// A download handle lost without CLOSE: it ends, its ranges uncounted.
    /// If what CLOSEd handles received already covers the file, that claim
    /// is delivered now rather than at the next sweep.
    public func abandonDownload(id: String, session: String, event: TransferEvent, now: Date = Date()) {
        do {
            try store.release(id: id, session: session, event: event)
            let settled = try store.settleServedClaims(now: now, lapsedOnly: true)
            for transfer in settled {
                metrics.delivered(afterWaiting: now.timeIntervalSince(transfer.uploadedAt))
                blobs.delete(transfer.blob)
                log("transfer \(transfer.id): every byte was received on CLOSEd handles; delivered and deleted")
            }
            if !settled.isEmpty { keepLogHeadAfterEnd(now: now) }
        } catch {
            log("cannot end a download handle of transfer \(id): \(error)")
        }
    }

    /// The recipient's verified acknowledgment, logged; a transfer not yet
    /// delivered (a resumed download whose earlier handle was lost) is
    /// delivered by it in the same transaction, then its blob unlinked.
    public func acknowledgeDelivery(id: String, recipient: String, source: String, acknowledgment: TransferEvent, now: Date = Date())
        throws(StoreError)
    {
        let current = try store.transfer(id: id)
        let delivered = try store.acknowledge(
            id: id, recipient: recipient, now: now, acknowledgment: acknowledgment,
            delivered: TransferEvent(
                time: now, kind: .delivered, actor: recipient, sourceAddress: source, transferID: id, size: current?.size,
                ciphertextSHA256: current?.ciphertextSHA256, detail: "acknowledged by the recipient's signature"),
            deletion: TransferEvent(
                time: now, kind: .deleted, actor: recipient, sourceAddress: source, transferID: id, size: current?.size,
                ciphertextSHA256: current?.ciphertextSHA256, detail: "delivered"))
        if let delivered {
            metrics.delivered(afterWaiting: now.timeIntervalSince(delivered.uploadedAt))
            blobs.delete(delivered.blob)
            log("\(recipient) acknowledged transfer \(id) before a delivery was counted; delivered, its blob is deleted")
            keepLogHeadAfterEnd(now: now)
        }
    }

    /// A sender's revocation: `available → revoked` with its "deleted" entry
    /// in one transaction, then the blob unlinked.
    public func revoke(id: String, sender: String, source: String, now: Date = Date()) throws(StoreError) -> Transfer {
        let current = try store.transfer(id: id)
        let revoked = try store.revoke(
            id: id, sender: sender, now: now,
            event: TransferEvent(time: now, kind: .revoked, actor: sender, sourceAddress: source, transferID: id),
            deletion: TransferEvent(
                time: now, kind: .deleted, actor: sender, sourceAddress: source, transferID: id, size: current?.size,
                ciphertextSHA256: current?.ciphertextSHA256, detail: "revoked by its sender"))
        metrics.transfersEntered(.revoked)
        CrashPoint.revokeCommitted.reached()
        blobs.delete(revoked.blob)
        CrashPoint.revokeUnlinked.reached()
        log("\(sender) revoked transfer \(id)")
        keepLogHeadAfterEnd(now: now)
        return revoked
    }

    /// Records bytes about to be served and renews the claim's lease, in one
    /// committed write: call it before the bytes leave, on every READ.
    public func recordServed(id: String, session: String, ranges: ServedRanges, now: Date = Date()) throws(StoreError) {
        try store.recordServed(id: id, session: session, ranges: ranges, now: now)
    }

    /// Keeps a claim alive while its holder serves (or waits on a slow client).
    @discardableResult
    public func renewClaim(id: String, session: String, now: Date = Date()) throws(StoreError) -> Date {
        try store.renewClaim(id: id, session: session, now: now)
    }

    /// Expires everything due and settles fully served claims whose lease
    /// ran out (their blobs deleted at once), removes old orphan blobs, and
    /// writes the refusals aggregated so far. Returns how many transfers ended.
    @discardableResult
    public func reap(now: Date = Date()) -> Int {
        do {
            let ended = try sweep(now: now, startingUp: false)
            metrics.reaperRan()
            flushRefusals(now: now)
            return ended
        } catch {
            log("sweep failed: \(error)")
            return 0
        }
    }

    /// The sweep: fully served claims → delivered, then expiry, then orphans.
    /// `startingUp` when no session of any process can be live (a start-up
    /// with no other node holding its lock): every fully served claim is
    /// settled whatever its lease, and every orphan goes, however young.
    /// Every sweep also removes files another node left in its staging
    /// folder and has not written for `BlobStore.staleStagingAge`.
    @discardableResult
    func sweep(now: Date, startingUp: Bool) throws -> Int {
        let stale = blobs.removeStaleStaging(olderThan: now.addingTimeInterval(-BlobStore.staleStagingAge))
        if stale > 0 { log("removed \(stale) uploads another node left unfinished a day ago or more") }
        let settled = try store.settleServedClaims(now: now, lapsedOnly: !startingUp)
        for transfer in settled {
            metrics.delivered(afterWaiting: now.timeIntervalSince(transfer.uploadedAt))
            blobs.delete(transfer.blob)
            log("transfer \(transfer.id): every byte was received on CLOSEd handles; delivered and deleted")
        }
        let expired = try store.expire(now: now)
        metrics.transfersEntered(.expired, count: expired.count)
        CrashPoint.expireCommitted.reached(when: !expired.isEmpty)
        for transfer in expired {
            blobs.delete(transfer.blob)
            log("expired and deleted transfer \(transfer.id)")
        }
        CrashPoint.expireUnlinked.reached(when: !expired.isEmpty)
        if !settled.isEmpty || !expired.isEmpty { keepLogHeadAfterEnd(now: now) }
        let orphans = blobs.orphans(keeping: try store.pendingBlobs(), olderThan: startingUp ? nil : now.addingTimeInterval(-Self.orphanMinimumAge))
        var removed = [TransferEvent]()
        for orphan in orphans where blobs.remove(orphan.name) {
            removed.append(
                TransferEvent(
                    time: now, kind: .orphanRemoved, actor: "server", sourceAddress: "", size: orphan.size,
                    detail: "removed \(orphan.name): no pending transfer names it"))
        }
        if !removed.isEmpty {
            try store.record(removed)
            log("removed \(removed.count) orphan blobs")
        }
        return settled.count + expired.count
    }

    /// Runs `reap` every `reaperInterval` and writes aggregated refusals
    /// every `refusalWindow`, on one background thread.
    public func startReaper() {
        let tick = min(configuration.reaperInterval, configuration.refusalWindow)
        Thread.detachNewThread { [self] in
            var lastSweep = Date()
            while true {
                Thread.sleep(forTimeInterval: tick)
                let now = Date()
                if now.timeIntervalSince(lastSweep) >= configuration.reaperInterval {
                    lastSweep = now
                    reap(now: now)
                } else {
                    flushRefusals(now: now)
                }
            }
        }
    }
}
