import Foundation
import SealdropIO
import SealdropLayout

/// The transfer ids a profile has received, one per line, in a file beside
/// the profile. A drop box that serves one of them again (an old envelope
/// replayed under any id) is refused. Rewritten whole and atomically on
/// each addition, so a crash leaves the old list or the new one.
public struct ReceivedJournal: Sendable {
    public let file: String
    public private(set) var ids: Set<String>

    /// 33 bytes per id: room for 250,000 received transfers.
    public static let maximumSize = 33 * 250_000

    /// Reads the journal; a missing file is an empty one, a damaged one an error.
    public init(file: String) throws {
        self.file = file
        ids = try Self.load(file)
    }

    static func load(_ file: String) throws -> Set<String> {
        var info = stat()
        guard lstat(file, &info) == 0 else {
            guard errno == ENOENT else {
                throw DropBoxError(.localState, "cannot read the received-transfers journal \(file): \(String(cString: strerror(errno)))")
            }
            return []
        }
        guard info.st_mode & S_IFMT == S_IFREG, info.st_size <= Self.maximumSize, let data = FileManager.default.contents(atPath: file) else {
            throw DropBoxError(.localState, "\(file) is not a received-transfers journal (a regular file of at most \(Self.maximumSize) bytes)")
        }
        var ids = Set<String>()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard TransferID.isValid(line) else { throw DropBoxError(.localState, "\(file) holds a line that is not a transfer id; it is damaged") }
            ids.insert(String(line))
        }
        return ids
    }

    public func contains(_ id: String) -> Bool { ids.contains(id) }

    /// Adds `id`, durably, before the caller reports the transfer received.
    /// Another run of the same profile may have recorded ids since this one
    /// loaded the journal: under an exclusive lock (`FILE.lock`) the file is
    /// read again and rewritten with both, so no id recorded is ever lost.
    public mutating func record(_ id: String) throws {
        guard TransferID.isValid(id), !ids.contains(id) else { return }
        let lockFile = file + ".lock"
        do {
            try FileLock.withExclusiveLock(lockFile) { try recordLocked(id) }
        } catch let error as IOError {
            throw DropBoxError(.localState, "cannot lock the received-transfers journal \(lockFile): \(String(cString: strerror(error.errno)))")
        }
    }

    private mutating func recordLocked(_ id: String) throws {
        ids.formUnion(try Self.load(file))
        guard !ids.contains(id) else { return }
        let text = (ids.sorted() + [id]).map { $0 + "\n" }.joined()
        guard text.utf8.count <= Self.maximumSize else {
            throw DropBoxError(.localState, "\(file) is full (\(ids.count) transfers); archive it and start a new one")
        }
        do {
            let output = try AtomicOutputFile(destination: file, mode: 0o600, overwrite: true)
            try Array(text.utf8).withUnsafeBytes { try output.write($0) }
            try output.commit()
        } catch {
            throw DropBoxError(.localState, "cannot record transfer \(id) in \(file): \(error)")
        }
        ids.insert(id)
    }
}
