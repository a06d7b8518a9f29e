import Foundation
import SealdropSFTP
import SealdropLog
import SealdropStore

/// What an SFTP handle refers to.
enum OpenHandle {
    /// A directory listing, sent in batches from `next` on.
    case listing([SFTPNameEntry], next: Int)
    /// A small read-only file served from memory (a certificate).
    case memoryFile([UInt8])
    case upload(UploadState)
    /// A signed statement being written (small, kept in memory): a
    /// recipient's acknowledgment or a sender's declaration.
    case statement(StatementState)
    case download(DownloadState)
}

/// An upload in progress: a staging file no one else can see.
final class UploadState {
    let recipient: String
    /// Owned here and closed exactly once (`closeFile`), -1 after: a
    /// descriptor number closed twice could belong to another session by then.
    private(set) var fd: Int32
    let path: String
    var size: UInt64 = 0
    /// What the vendor's quota had left when the upload began: writes stop
    /// there, so staging cannot grow past what publishing would allow.
    let quotaLeft: UInt64

    init(recipient: String, fd: Int32, path: String, quotaLeft: UInt64) {
        self.recipient = recipient
        self.fd = fd
        self.path = path
        self.quotaLeft = quotaLeft
    }

    func closeFile() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    /// Drops the staged bytes (a no-op for the name once it was published).
    func discard() {
        closeFile()
        unlink(path)
    }
}

/// A claimed download: the blob, and which bytes went out.
final class DownloadState {
    let transfer: Transfer
    /// Closed by its owner, once, when the handle ends.
    let fd: Int32
    var served: ServedRanges
    var unflushedBytes: UInt64 = 0

    init(transfer: Transfer, fd: Int32) {
        self.transfer = transfer
        self.fd = fd
        served = transfer.served
    }
}

/// A signed statement on its way in: checked and logged at CLOSE.
final class StatementState {
    enum Kind { case acknowledgment, declaration }

    let kind: Kind
    let transferID: String
    var bytes: [UInt8] = []

    init(_ kind: Kind, transferID: String) {
        self.kind = kind
        self.transferID = transferID
    }

    var limit: Int { kind == .acknowledgment ? Acknowledgment.maximumSize : Declaration.maximumSize }
}
