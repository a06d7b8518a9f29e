import Foundation
import SealdropSFTP
import SealdropStore

/// What an SFTP handle refers to.
enum OpenHandle {
    /// A directory listing, sent whole on the first READDIR.
    case listing([SFTPNameEntry], sent: Bool)
    /// A small read-only file served from memory (a certificate).
    case memoryFile([UInt8])
    case upload(UploadState)
    case download(DownloadState)
}

/// An upload in progress: a staging file no one else can see.
final class UploadState {
    let recipient: String
    let fd: Int32
    let path: String
    var size: UInt64 = 0

    init(recipient: String, fd: Int32, path: String) {
        self.recipient = recipient
        self.fd = fd
        self.path = path
    }

    /// Drops the staged bytes.
    func discard() {
        close(fd)
        unlink(path)
    }
}

/// A claimed download: the blob, and which bytes went out.
final class DownloadState {
    let transfer: Transfer
    let fd: Int32
    var served: ServedRanges
    var unflushedBytes: UInt64 = 0

    init(transfer: Transfer, fd: Int32) {
        self.transfer = transfer
        self.fd = fd
        served = transfer.served
    }
}
