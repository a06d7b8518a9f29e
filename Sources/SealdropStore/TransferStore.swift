import Foundation
import SealdropFormat

/// Transfer metadata and its lifecycle. Every state change is one
/// conditional update in one transaction, so two sessions (on one node or,
/// with a shared database, on many) can never both win a claim or both
/// deliver. SQLite implements it today; a PostgreSQL store runs the same tests.
public protocol TransferStore: Sendable {
    /// Records a newly uploaded, validated transfer as available; refuses a
    /// transfer id seen before, whatever became of it (replay protection).
    func publish(_ transfer: Transfer, event: TransferEvent) throws(StoreError)

    func transfer(id: String) throws(StoreError) -> Transfer?
    /// Pending transfers addressed to `recipient` (available or claimed), oldest first.
    func inbox(recipient: String) throws(StoreError) -> [Transfer]
    /// Every transfer `sender` sent, whatever its state, newest first.
    func sent(by sender: String) throws(StoreError) -> [Transfer]
    /// Every transfer `vendor` sent or received, whatever its state, newest first.
    func involving(_ vendor: String) throws(StoreError) -> [Transfer]

    /// Gives `session` the download claim if the transfer is addressed to
    /// `recipient`, unexpired at `now`, not every byte of it served yet, and
    /// either available, already this session's, or claimed by a session
    /// whose lease ran out (taken over with its served ranges, for a resume).
    /// The claim lasts the store's lease from `now`.
    func claim(id: String, recipient: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// Extends `session`'s claim to `now` + the lease; returns the new end.
    /// Refused (`notClaimed`) once another session took the claim over.
    func renewClaim(id: String, session: String, now: Date) throws(StoreError) -> Date
    /// Adds served bytes to `session`'s claim and renews its lease, in one
    /// committed transaction: called before the bytes leave, so that once
    /// every byte went out no crash can make the transfer servable again.
    /// Refuses (`tooScattered`) a set beyond `ServedRanges.maximumRanges`.
    func recordServed(id: String, session: String, ranges: ServedRanges, now: Date) throws(StoreError)
    /// Gives the claim back (the session ended early); served ranges are
    /// kept for a resume. A claim whose every byte went out is kept for delivery.
    func release(id: String, session: String, event: TransferEvent) throws(StoreError)
    /// `claimed → delivered` once every byte was served; the caller then deletes the blob.
    func deliver(id: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// As `deliver`, with the "deleted" entry in the same transaction; the
    /// caller unlinks the blob after the commit (a crash in between leaves an
    /// orphan, which the next sweep removes and logs).
    func deliver(id: String, session: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer
    /// `available → revoked`, by its sender only.
    func revoke(id: String, sender: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// As `revoke`, with the "deleted" entry in the same transaction.
    func revoke(id: String, sender: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer
    /// `available|claimed → expired` for everything past its expiry, each with
    /// its "expired" and "deleted" entries in one transaction; returns them so
    /// their blobs can be unlinked.
    func expire(now: Date) throws(StoreError) -> [Transfer]
    /// `claimed → delivered` for every claim whose served ranges cover the
    /// whole file (the session died before CLOSE), logged as delivered and
    /// deleted; with `lapsedOnly`, only those whose lease ran out (a live
    /// session is about to deliver them itself). Returns them so their blobs
    /// can be unlinked.
    func settleServedClaims(now: Date, lapsedOnly: Bool) throws(StoreError) -> [Transfer]

    /// Bytes and count of `sender`'s pending transfers, for quotas.
    func pendingUsage(sender: String) throws(StoreError) -> (bytes: UInt64, count: Int)
    /// Blob names of every pending transfer, for cleaning stray files at start-up.
    func pendingBlobs() throws(StoreError) -> Set<String>

    func record(_ event: TransferEvent) throws(StoreError)
    /// Several events in one transaction (a batch of aggregated refusals).
    func record(_ events: [TransferEvent]) throws(StoreError)
    /// Every event in order.
    func events() throws(StoreError) -> [TransferEvent]
    /// The key fingerprints every node of this drop box must present:
    /// records `keys` when none are recorded yet (the first node to start,
    /// atomically, so two nodes starting together agree on one) and returns
    /// what is recorded. `sealdropd serve` refuses to start when they
    /// differ from its own. Added for several nodes on one store; every
    /// store implements it.
    func clusterKeys(record keys: ClusterKeys) throws(StoreError) -> ClusterKeys
    /// The receipt log's entries, in order: each event's `logEntry` bytes as recorded.
    func logEntries() throws(StoreError) -> [[UInt8]]
    /// Each entry's leaf hash (RFC 9162 `SHA-256(0x00 || entry)`), in log order, kept at insert.
    func logLeafHashes() throws(StoreError) -> [[UInt8]]
    /// One transfer's entries and their positions in the log (from 0), by
    /// an indexed lookup rather than a scan of the whole log.
    func logEntries(transfer id: String) throws(StoreError) -> [(index: Int, entry: [UInt8])]
}

extension TransferStore {
    /// `recordServed` at the current time (the form sessions called before leases).
    public func recordServed(id: String, session: String, ranges: ServedRanges) throws(StoreError) {
        try recordServed(id: id, session: session, ranges: ranges, now: Date())
    }
}

/// Why the store refused. Codes are stable; messages never name another
/// vendor's transfers.
public struct StoreError: CodedError, Sendable {
    public enum Code: String, Sendable {
        case duplicateTransfer = "duplicate-transfer"
        case notFound = "not-found"
        case alreadyClaimed = "already-claimed"
        case notClaimed = "not-claimed"
        case expired = "expired"
        case incomplete = "incomplete"
        case tooScattered = "too-scattered"
        case notRevocable = "not-revocable"
        case database = "database"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
