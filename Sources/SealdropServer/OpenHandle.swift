import Foundation
import SealdropLayout
import SealdropSFTP
import SealdropStore

/// What an SFTP handle refers to, as the rules see it: plain values. The
/// descriptors behind uploads and downloads belong to `SessionDriver`,
/// keyed by the same handle.
struct OpenHandle: Equatable {
    /// Where it was opened: the operation table is consulted on this kind.
    let kind: PathKind
    var content: Content

    enum Content: Equatable {
        /// A directory listing, sent in batches from `next` on.
        case listing([SFTPNameEntry], next: Int)
        /// A small read-only file served from memory (a certificate, a receipt).
        case memoryFile([UInt8])
        case upload(UploadProgress)
        /// A signed statement being written (small, kept in memory).
        case statement(StatementDraft)
        case download(DownloadProgress)
    }
}

/// An upload in progress, out of every vendor's sight until published.
struct UploadProgress: Equatable {
    let recipient: String
    /// Bytes written from offset 0 without a hole.
    var size: UInt64 = 0
    /// Bytes reserved for it in the vendor's quota (`UploadReservations`).
    var reserved: UInt64 = 0
    /// Set once the upload can no longer be published (the disk filled up):
    /// every later WRITE and the CLOSE get this message.
    var failure: String?

    init(recipient: String) {
        self.recipient = recipient
    }
}

/// A download handle on the recipient's claim and which bytes went out on
/// it (as recorded in the store for this handle).
struct DownloadProgress: Equatable {
    let transfer: Transfer
    var served: ServedRanges
    /// When the claim's lease was last renewed (claimed, or a READ recorded).
    var renewedAt: Date
}

/// A signed statement on its way in: checked and logged at CLOSE.
struct StatementDraft: Equatable {
    let kind: StatementRecord.Kind
    let transferID: String
    var bytes: [UInt8] = []

    init(_ kind: StatementRecord.Kind, transferID: String) {
        self.kind = kind
        self.transferID = transferID
    }
}
