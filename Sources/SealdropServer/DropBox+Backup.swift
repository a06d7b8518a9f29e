import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropLog
import SealdropStore

/// Backup of the metadata, and the tree head a restore compares with.
extension DropBox {
    /// The largest signed tree head this drop box has handed out (to a
    /// vendor, in a receipt or an export) or signed when a transfer ended,
    /// kept beside the database: a restore from an older backup learns from
    /// it how far the log went, even when the database itself is lost.
    public static let logHeadFile = "log-head.json"

    /// Serialises the read-compare-rename of `log-head.json` within a
    /// process: two sessions keeping heads at once must not let the smaller
    /// one land last.
    private static let logHeadLock = NSLock()

    /// Keeps `head` if it is larger than the one kept (written beside and
    /// renamed, so the file is always a whole head), with the leaf hash of
    /// the log's first entry: a restore tells by it a backup of another drop
    /// box even when the backup's log is shorter than the head. Failures are
    /// logged: the head was already handed out, and a restore without it
    /// relies on the other records.
    func keepLogHead(_ head: SignedTreeHead) {
        let path = configuration.dataDirectory + "/" + Self.logHeadFile
        Self.logHeadLock.lock()
        defer { Self.logHeadLock.unlock() }
        if let kept = KeptLogHead.read(path: path), kept.treeHead.size >= head.size { return }
        do {
            let first = head.size > 0 ? try store.logEntries(from: 0, limit: 1).first.map { Hex.encode(MerkleTree.leafHash($0)) } : nil
            let temporary = path + ".\(getpid()).\(Hex.encode(SecureRandom.bytes(4))).new"
            try KeptLogHead(treeHead: head, firstLeaf: first).encoded().write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                let error = ServerIOError("keep the log head", errno)
                unlink(temporary)
                throw error
            }
        } catch {
            log("cannot keep the log head in \(path): \(error)")
        }
    }

    /// Signs a head over the whole log and keeps it: called after every
    /// commit that ends a transfer (delivery, revocation, expiry), so the
    /// kept head covers the end even when no client ever asked for a head
    /// (plain SFTP clients never do) and a restore from an older backup
    /// knows the end happened. Reads the stored leaf hashes once, as
    /// handing out a head does.
    func keepLogHeadAfterEnd(now: Date = Date()) {
        do {
            let hashes = try store.logLeafHashes()
            keepLogHead(SignedTreeHead.sign(leafHashes: hashes, at: now, with: receiptKey.signingKey))
        } catch {
            log("cannot sign a log head after a transfer ended: \(error)")
        }
    }

    /// A consistent copy of the metadata database at `path`, taken while
    /// the server runs; returns how many log entries it holds. (The blobs
    /// are not in it: see the README's "Backup and restore".)
    public func backupMetadata(to path: String) throws -> Int {
        guard let sqlite = store as? SQLiteTransferStore else {
            throw RestoreError("this drop box's metadata is not in SQLite: back it up with the database's own tool (pg_dump for PostgreSQL)")
        }
        return try sqlite.backup(to: path)
    }
}

/// What `log-head.json` holds: a signed tree head (its fields at the top
/// level, so the file still reads as a `SignedTreeHead`) and the hex leaf
/// hash of the log's first entry (absent in files written before it was kept).
public struct KeptLogHead: Equatable, Sendable {
    public var treeHead: SignedTreeHead
    public var firstLeaf: String?

    public init(treeHead: SignedTreeHead, firstLeaf: String?) {
        self.treeHead = treeHead
        self.firstLeaf = firstLeaf
    }

    /// The file's layout: the head's fields and the first leaf, flat.
    private struct Stored: Codable {
        var size: Int
        var root: String
        var timestamp: Int64
        var signature: String
        var firstLeaf: String?
    }

    /// The file's head, or nil when there is none or it is not a head.
    public static func read(path: String) -> KeptLogHead? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? decode(data)
    }

    public static func decode(_ data: Data) throws -> KeptLogHead {
        let stored = try JSONDecoder().decode(Stored.self, from: data)
        return KeptLogHead(
            treeHead: SignedTreeHead(size: stored.size, root: stored.root, timestamp: stored.timestamp, signature: stored.signature),
            firstLeaf: stored.firstLeaf)
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(
            Stored(size: treeHead.size, root: treeHead.root, timestamp: treeHead.timestamp, signature: treeHead.signature, firstLeaf: firstLeaf))
    }
}
