import SealdropSFTP

/// Every SFTP request this server answers, and what it may do: the one
/// place where an operation is allowed at all (deny by default, as
/// OpenSSH's sftp-server does with its handler table). Where in the tree
/// it may act is decided next to each operation in `SFTPSession`.
enum SFTPOperationTable {
    enum Effect {
        /// Reads the tree or a file.
        case reads
        /// Changes what is stored (upload, revoke, delivery).
        case writes
    }

    static let allowed: [SFTPMessage.PacketType: Effect] = [
        .realpath: .reads, .stat: .reads, .lstat: .reads, .fstat: .reads,
        .opendir: .reads, .readdir: .reads, .open: .reads, .read: .reads, .close: .reads,
        .write: .writes, .remove: .writes, .setstat: .writes, .fsetstat: .writes,
    ]

    /// Refuses anything not in the table: rename, mkdir, rmdir, symlink,
    /// readlink and every extension.
    static func check(_ message: SFTPMessage) throws {
        guard allowed[message.packetType] != nil else {
            switch message.packetType {
            case .rename, .mkdir, .rmdir, .symlink:
                throw Refusal(.permissionDenied, "the drop box tree is fixed: \(message.packetType) is not allowed")
            default:
                throw Refusal(.operationUnsupported, "\(message.packetType) is not supported by this server")
            }
        }
    }
}
