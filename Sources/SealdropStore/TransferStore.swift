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
    /// `recipient`, unexpired at `now` and not claimed by another session.
    func claim(id: String, recipient: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// Adds served bytes to the claimed transfer, in one transaction.
    func recordServed(id: String, session: String, ranges: ServedRanges) throws(StoreError)
    /// Gives the claim back (the session ended early); served ranges are kept for a resume.
    func release(id: String, session: String, event: TransferEvent) throws(StoreError)
    /// Releases every claim, as a single node does at start-up (no session survived).
    func releaseAllClaims(now: Date) throws(StoreError) -> Int
    /// `claimed → delivered` once every byte was served; the caller then deletes the blob.
    func deliver(id: String, session: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// `available → revoked`, by its sender only.
    func revoke(id: String, sender: String, now: Date, event: TransferEvent) throws(StoreError) -> Transfer
    /// `available|claimed → expired` for everything past its expiry; returns them so their blobs can be deleted.
    func expire(now: Date) throws(StoreError) -> [Transfer]

    /// Bytes and count of `sender`'s pending transfers, for quotas.
    func pendingUsage(sender: String) throws(StoreError) -> (bytes: UInt64, count: Int)
    /// Blob names of every pending transfer, for cleaning stray files at start-up.
    func pendingBlobs() throws(StoreError) -> Set<String>

    func record(_ event: TransferEvent) throws(StoreError)
    /// Every event in order.
    func events() throws(StoreError) -> [TransferEvent]
    /// The receipt log's entries, in order: each event's `logEntry` bytes as recorded.
    func logEntries() throws(StoreError) -> [[UInt8]]
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
