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

    // Downloads. A recipient has one claim per transfer, shared by its open
    // handles: `session` names one handle (one per session and transfer),
    // so a multi-connection client's sessions each hold one. A handle's
    // served ranges are its own; they count towards delivery only once it
    // is CLOSEd (`close`). A handle lost without CLOSE (`release`, a lapsed
    // lease, a restart) ends with its ranges uncounted, so a client that
    // failed part-way never causes a delivery of bytes it did not keep.

    /// Opens `session`'s handle on the recipient's claim if the transfer is
    /// addressed to `recipient`, unexpired at `now`, available or claimed,
    /// and the ranges counted so far do not cover the file. Handles of this
    /// transfer whose lease ran out end first, their ranges uncounted. The
    /// handle starts with no served ranges and lasts the lease from `now`;
    /// the returned transfer's `served` holds the ranges counted so far.
    func claim(id: String, recipient: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// Extends `session`'s handle to `now` + the lease; returns the new end.
    /// Refused (`notClaimed`) once the handle ended (lapsed and dropped, delivered).
    func renewClaim(id: String, session: String, now: Date) throws(StoreError) -> Date
    /// Adds served bytes to `session`'s handle and renews its lease, in one
    /// committed transaction: called before the bytes leave, so the log of
    /// what was served is never short of what went out. Refuses
    /// (`tooScattered`) a handle's set beyond `ServedRanges.maximumRanges`.
    func recordServed(id: String, session: String, ranges: ServedRanges, now: Date) throws(StoreError)
    /// Ends `session`'s handle WITHOUT counting its ranges (lost without
    /// CLOSE: connection cut, session killed), with `event` (its detail
    /// extended). The last handle gone, the transfer is available again,
    /// unless what CLOSEd handles received covers it (then
    /// `settleServedClaims` delivers it).
    func release(id: String, session: String, event: TransferEvent) throws(StoreError)
    /// CLOSE of `session`'s handle, in one transaction: its ranges are
    /// counted and the handle ends. If no other handle is open: delivered
    /// (with `delivered` and `deletion`) when the counted ranges cover the
    /// file, else available (with `released`); with handles still open it
    /// stays claimed (with `released`), and once the counted ranges cover
    /// the file no new handle may join. Returns the transfer as it now is;
    /// `.delivered` means the caller unlinks the blob.
    func close(id: String, session: String, now: Date, delivered: TransferEvent, deletion: TransferEvent, released: TransferEvent) throws(StoreError)
        -> Transfer
    /// A `close` that must deliver: refused (`incomplete`, nothing changed)
    /// while another handle is open or the counted ranges do not cover the file.
    func deliver(id: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// As `deliver`, with the "deleted" entry in the same transaction; the
    /// caller unlinks the blob after the commit (a crash in between leaves an
    /// orphan, which the next sweep removes and logs).
    func deliver(id: String, session: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer
    /// The recipient's signed acknowledgment of `id` (it decrypted the
    /// envelope): records `acknowledgment`; a transfer of `recipient` still
    /// available or claimed (and unexpired) is delivered at once in the same
    /// transaction (`delivered`, `deletion`), whatever was counted, and its
    /// open handles end. Returns the transfer if this delivered it (the
    /// caller unlinks the blob), nil if it was delivered before; refuses
    /// (`notFound`) a transfer that ended otherwise.
    func acknowledge(id: String, recipient: String, now: Date, acknowledgment: TransferEvent, delivered: TransferEvent, deletion: TransferEvent)
        throws(StoreError) -> Transfer?
    /// `available → revoked`, by its sender only.
    func revoke(id: String, sender: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// As `revoke`, with the "deleted" entry in the same transaction.
    func revoke(id: String, sender: String, now: Date, event: TransferEvent, deletion: TransferEvent) throws(StoreError) -> Transfer
    /// `available|claimed → expired` for everything past its expiry, each with
    /// its "expired" and "deleted" entries in one transaction; returns them so
    /// their blobs can be unlinked.
    func expire(now: Date) throws(StoreError) -> [Transfer]
    /// Ends every handle whose lease ran out (with `lapsedOnly` false, at
    /// start-up, every handle) without counting its ranges; then each claim
    /// left with no open handle is delivered (logged as delivered and
    /// deleted) if its counted ranges cover the file, or made available
    /// again (logged as released). Returns the delivered ones so their blobs
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
    /// At most `limit` entries from position `offset` (from 0), in log order:
    /// one page of the log, so an export streams it in bounded memory. The
    /// log is append-only with sequence numbers 1, 2, 3…, so a page is
    /// `sequence > offset ORDER BY sequence LIMIT limit`. The default reads
    /// the whole log and slices it: a store should answer with that query.
    func logEntries(from offset: Int, limit: Int) throws(StoreError) -> [[UInt8]]
}

extension TransferStore {
    public func logEntries(from offset: Int, limit: Int) throws(StoreError) -> [[UInt8]] {
        let all = try logEntries()
        guard offset < all.count, limit > 0 else { return [] }
        return Array(all[max(offset, 0)..<min(all.count, max(offset, 0) + limit)])
    }

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

extension StoreError {
    /// A READ refused to a handle: not this session's claim, or every byte
    /// already received through CLOSEd handles (it gets no more copies).
    public static func noMoreReads(_ id: String) -> StoreError {
        StoreError(
            .notClaimed,
            "transfer \(id) is not claimed by this session, or you already received all of it through another connection: close this handle")
    }

    /// Served ranges past `ServedRanges.maximumRanges`: in one handle, or
    /// counted at CLOSE over all of the recipient's connections.
    public static func tooScattered(_ id: String, acrossConnections: Bool) -> StoreError {
        let reads = acrossConnections ? "reads of transfer \(id) over all your connections" : "reads of transfer \(id)"
        return StoreError(
            .tooScattered, "\(reads) are scattered over more than \(ServedRanges.maximumRanges) separate ranges; read it from start to end")
    }
}
