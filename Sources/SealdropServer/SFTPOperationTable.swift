import SealdropLayout
import SealdropSFTP

/// The kinds of place a request can name: every `VirtualPath` case, and
/// anything outside the tree. Handle requests take the kind of the path
/// their handle was opened on.
enum PathKind: String, CaseIterable, Sendable {
    case root, inbox, inboxFile, outbox, outboxVendor, outboxFile, sent, sentFile
    case directory, directoryFile, receipts, receiptFile, acknowledgment, declaration, receiptHead, receiptConsistency
    /// A path `VirtualPath.resolve` does not accept, or no path at all (extensions).
    case outsideTree

    init(_ path: VirtualPath?) {
        switch path {
        case nil: self = .outsideTree
        case .root: self = .root
        case .inbox: self = .inbox
        case .inboxFile: self = .inboxFile
        case .outbox: self = .outbox
        case .outboxVendor: self = .outboxVendor
        case .outboxFile: self = .outboxFile
        case .sent: self = .sent
        case .sentFile: self = .sentFile
        case .directory: self = .directory
        case .directoryFile: self = .directoryFile
        case .receipts: self = .receipts
        case .receiptFile: self = .receiptFile
        case .acknowledgment: self = .acknowledgment
        case .declaration: self = .declaration
        case .receiptHead: self = .receiptHead
        case .receiptConsistency: self = .receiptConsistency
        }
    }

    static let folders: Set<PathKind> = [.root, .inbox, .outbox, .outboxVendor, .sent, .directory, .receipts]
}

/// An SFTP request as the table sees it: OPEN is split by what it asks for
/// (reading, or writing/creating), since that decides where it may go.
enum SFTPOperation: String, CaseIterable, Sendable {
    case openForReading, openForWriting, close, read, write, lstat, fstat, setstat, fsetstat
    case opendir, readdir, remove, mkdir, rmdir, realpath, stat, rename, readlink, symlink, extended

    /// The operation a client request asks for, or nil for server replies and INIT.
    init?(_ message: SFTPMessage) {
        switch message {
        case .open(_, _, let flags, _):
            self = flags.isDisjoint(with: [.write, .append, .create, .truncate]) ? .openForReading : .openForWriting
        case .close: self = .close
        case .read: self = .read
        case .write: self = .write
        case .lstat: self = .lstat
        case .fstat: self = .fstat
        case .setstat: self = .setstat
        case .fsetstat: self = .fsetstat
        case .opendir: self = .opendir
        case .readdir: self = .readdir
        case .remove: self = .remove
        case .mkdir: self = .mkdir
        case .rmdir: self = .rmdir
        case .realpath: self = .realpath
        case .stat: self = .stat
        case .rename: self = .rename
        case .readlink: self = .readlink
        case .symlink: self = .symlink
        case .extended: self = .extended
        case .initialize, .version, .status, .handle, .data, .name, .attributes, .extendedReply: return nil
        }
    }
}

/// Every SFTP operation on every kind of path, and what the server does:
/// the one place an operation is allowed at all (deny by default, as
/// OpenSSH's sftp-server does with its handler table and `does_write`).
/// `SessionRules` consults only `rule(for:on:)` before acting.
enum SFTPOperationTable {
    enum Rule: Equatable, Sendable {
        /// Allowed; `writes` when it changes what is stored (upload, claim,
        /// served bytes, delivery, revocation, a signed statement).
        case allowed(writes: Bool)
        /// Answered "no such file": write-only places show nothing to readers.
        case hidden
        /// Refused with "permission denied": the tree is fixed, or this place is read-only.
        case denied
        /// Not implemented by this server for any path.
        case unsupported
    }

    private static let readOnly = Rule.allowed(writes: false)
    private static let writing = Rule.allowed(writes: true)

    /// The allowed and hidden rows; every other pair is denied, or
    /// unsupported for the operations in `unsupported`.
    private static let rows: [SFTPOperation: [PathKind: Rule]] = [
        .realpath: Dictionary(uniqueKeysWithValues: PathKind.allCases.filter { $0 != .outsideTree }.map { ($0, readOnly) }),
        .stat: lookups,
        .lstat: lookups,
        .opendir: Dictionary(uniqueKeysWithValues: PathKind.folders.map { ($0, readOnly) }),
        .readdir: Dictionary(uniqueKeysWithValues: PathKind.folders.map { ($0, readOnly) }),
        .openForReading: [
            .inboxFile: writing, .directoryFile: readOnly, .receiptFile: readOnly, .receiptHead: readOnly, .receiptConsistency: readOnly,
        ],
        .openForWriting: [.outboxFile: writing, .acknowledgment: writing, .declaration: writing],
        .read: [
            .inboxFile: writing, .directoryFile: readOnly, .receiptFile: readOnly, .receiptHead: readOnly, .receiptConsistency: readOnly,
        ],
        .write: [.outboxFile: writing, .acknowledgment: writing, .declaration: writing],
        .close: Dictionary(
            uniqueKeysWithValues: PathKind.folders.map { ($0, readOnly) }
                + [(.inboxFile, writing), (.directoryFile, readOnly), (.receiptFile, readOnly)]
                + [(.receiptHead, readOnly), (.receiptConsistency, readOnly)]
                + [(.outboxFile, writing), (.acknowledgment, writing), (.declaration, writing)]),
        .fstat: Dictionary(
            uniqueKeysWithValues: PathKind.folders.map { ($0, readOnly) }
                + [.inboxFile, .directoryFile, .receiptFile, .outboxFile, .acknowledgment, .declaration, .receiptHead, .receiptConsistency].map {
                    ($0, readOnly)
                }),
        // Permission and time changes on an upload are accepted and ignored:
        // stored files are always 0600 and keep their upload time.
        .setstat: [.outboxFile: readOnly],
        .fsetstat: [.outboxFile: readOnly],
        .remove: [.sentFile: writing],
        // Only the session's own upload, within its outbox folder; nothing stored changes.
        .rename: [.outboxFile: readOnly],
        // Extensions name no path; only `limits@openssh.com` is answered.
        .extended: [.outsideTree: readOnly],
    ]

    /// STAT and LSTAT: everything in the tree, but what is write-only does
    /// not exist for readers; an outbox file only for the session that
    /// uploaded it (`SessionRules+Uploads`).
    private static let lookups: [PathKind: Rule] = Dictionary(
        uniqueKeysWithValues: PathKind.allCases.filter { $0 != .outsideTree }.map { kind in
            (kind, [.acknowledgment, .declaration].contains(kind) ? Rule.hidden : readOnly)
        })

    /// Operations this server implements nowhere.
    private static let unsupported: Set<SFTPOperation> = [.readlink]

    /// Operations that would change the tree's shape: refused everywhere.
    private static let shaping: Set<SFTPOperation> = [.mkdir, .rmdir, .rename, .symlink]

    static func rule(for operation: SFTPOperation, on kind: PathKind) -> Rule {
        if unsupported.contains(operation) { return .unsupported }
        // Outside the tree nothing exists (a name, not a refusal, is what is missing).
        if kind == .outsideTree, !shaping.contains(operation), rows[operation]?[kind] == nil { return .hidden }
        return rows[operation]?[kind] ?? .denied
    }
}
