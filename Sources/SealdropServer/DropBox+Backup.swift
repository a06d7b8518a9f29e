import Foundation
import SealdropLog
import SealdropStore

/// Backup of the metadata, and the tree head a restore compares with.
extension DropBox {
    /// The largest signed tree head this drop box has handed out (to a
    /// vendor, in a receipt or an export), kept beside the database: a
    /// restore from an older backup learns from it how far the log went,
    /// even when the database itself is lost.
    public static let logHeadFile = "log-head.json"

    /// Keeps `head` if it is larger than the one kept (written beside and
    /// renamed, so the file is always a whole head). Failures are logged:
    /// the head was already handed out, and a restore without it relies
    /// on the other records.
    func keepLogHead(_ head: SignedTreeHead) {
        let path = configuration.dataDirectory + "/" + Self.logHeadFile
        if let data = FileManager.default.contents(atPath: path), let kept = try? JSONDecoder().decode(SignedTreeHead.self, from: data),
            kept.size >= head.size
        {
            return
        }
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let temporary = path + ".\(getpid()).new"
            try encoder.encode(head).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                unlink(temporary)
                throw ServerIOError("keep the log head", errno)
            }
        } catch {
            log("cannot keep the log head in \(path): \(error)")
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
