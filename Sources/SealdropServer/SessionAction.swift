import Foundation
import SealdropSFTP
import SealdropStore

/// What a session's rules want done next. `SessionRules` decides and
/// returns one action at a time; `SessionDriver` performs it and, for an
/// effect, feeds the outcome back (`SessionRules.resume`). A request ends
/// with `.reply` or `.refuse`.
enum SessionAction: Equatable {
    /// Send this reply; the request is done.
    case reply(SFTPMessage)
    /// Record the refusal, then send its status; the request is done.
    case refuse(SessionRefusal)

    /// Claim the transfer for this session and open its blob under `handle`.
    case claimDownload(handle: [UInt8], transferID: String)
    /// Read up to `count` bytes of the download's blob at `offset`.
    case readBlob(handle: [UInt8], offset: UInt64, count: Int)
    /// Record in the store, in one committed write, that `range` was served.
    case recordServed(transferID: String, range: Range<UInt64>)
    /// Extend this session's claim on the transfer (its lease), between reads.
    case renewClaim(transferID: String)
    /// End the download's handle: `closed` (the client sent CLOSE) counts its
    /// served ranges and may deliver; otherwise (session cut) they do not
    /// count. Closes the blob either way.
    case finishDownload(handle: [UInt8], transferID: String, closed: Bool)

    /// Reserve an upload slot for the vendor and create a staging file under `handle`.
    case startUpload(handle: [UInt8])
    /// Grow the upload's byte reservation to at least `bytes` (outcome `.reserved`).
    case reserve(handle: [UInt8], bytes: UInt64)
    /// Write `data` at `offset` into the staging file.
    case writeStaged(handle: [UInt8], offset: UInt64, data: [UInt8])
    /// Check the staged upload is a well-formed envelope from this vendor for `recipient`.
    case validateUpload(handle: [UInt8], recipient: String, size: UInt64)
    /// Move the validated upload into the store and its blob into place.
    case publishUpload(handle: [UInt8], upload: ValidatedUpload)
    /// Delete the staged bytes and release the reservation.
    case discardUpload(handle: [UInt8])

    /// Revoke one of this vendor's transfers and delete its blob.
    case revoke(transferID: String)
    /// Log a verified statement (acknowledgment or declaration).
    case recordStatement(StatementRecord)
}

/// What came of an effect, fed back to the rules.
enum EffectOutcome: Equatable {
    case done
    case claimed(Transfer)
    case bytes([UInt8])
    /// The upload's reservation now covers this many bytes.
    case reserved(UInt64)
    case validated(ValidatedUpload)
    case published
    /// The store already holds this transfer id (a retry or a replay).
    case duplicate
    case delivered
    case released
    case failed(EffectFailure)
}

/// Why an effect did not happen, in terms the rules can answer.
enum EffectFailure: Equatable {
    /// A rule of the shared state refused (claim taken, limit reached, not found).
    case refused(SFTPStatusCode, String)
    /// The upload is not an acceptable envelope; the reason is for the sender.
    case rejected(String)
    /// The disk (or the vendor's file system quota) is full.
    case outOfSpace
    /// Anything else: an I/O or database failure, logged by the driver.
    case internalError(String)
}

/// An upload that passed the validator, before it is published.
struct ValidatedUpload: Equatable {
    let transferID: String
    let size: UInt64
    let sha256: String
    let expiresAt: Date
    let recipient: String
}

/// A refusal the session decided: the status the client gets and what is
/// recorded about it.
struct SessionRefusal: Equatable {
    let id: UInt32
    let code: SFTPStatusCode
    let message: String
    let record: RefusalRecord
}

/// What the owner records about a refusal (one method, `SessionDriver.recordRefusal`).
struct RefusalRecord: Equatable {
    enum Kind: String, Equatable {
        /// The operation table does not allow this operation on this path.
        case operationDenied = "operation-denied"
        /// A name that does not exist here: answered, not recorded.
        case notFound = "not-found"
        /// A transfer that exists but is not this vendor's: answered as if
        /// absent, and recorded (someone is looking at others' ids).
        case notYours = "not-yours"
        /// A limit: handles, uploads, pending transfers, quota, file size, scattered reads.
        case limitReached = "limit-reached"
        /// An upload that is not published (bad envelope, replay, out of space).
        case uploadRejected = "upload-rejected"
        /// A download that may not start or continue (claimed elsewhere, expired).
        case downloadRefused = "download-refused"
        /// A certificate that no longer verifies.
        case trustRefused = "trust-refused"
        /// A request that makes no sense (bad handle, bad offset, bad statement).
        case badRequest = "bad-request"
        /// The server failed; the client is told only that.
        case serverError = "server-error"
        /// A later request on an upload already refused: recorded once, not again.
        case alreadyRefused = "already-refused"
    }

    let kind: Kind
    let transferID: String?
    let reason: String
    /// The upload's size, for a rejected upload.
    var size: UInt64?
}

/// A verified acknowledgment or declaration, ready for the receipt log.
struct StatementRecord: Equatable {
    enum Kind: Equatable { case acknowledgment, declaration }

    let kind: Kind
    let transferID: String
    let sha256: String?
    let detail: String
}
