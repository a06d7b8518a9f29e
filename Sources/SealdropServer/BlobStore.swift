import Foundation
import SealdropCrypto
import SealdropFormat

/// Envelope files on disk. Uploads are written under this node's staging
/// folder with random names, out of every vendor's sight; a validated upload
/// is fsynced and renamed into `blobs/` (also a random name), and the
/// directory fsynced. No name under either folder ever comes from a client.
///
/// Several nodes may share the folders (one blob directory on shared
/// storage): each stages in its own `staging/NODE-ID/`, on the same file
/// system as `blobs/`, so publishing stays one atomic rename; each holds
/// `nodes/NODE-ID.lock` while it runs, which tells the others it is alive
/// (a start-up only cleans what no live node may be writing).
public final class BlobStore: Sendable {
    let configuration: DropBoxConfiguration
    /// The descriptor holding this process's node lock (closed with it).
    private let lock: Int32

    /// How old a file in another node's staging folder must be (by its last
    /// write) before a sweep removes it: that node died and never came back
    /// to clean it. A live upload writes at least every idle timeout (10
    /// minutes by default); a day leaves no doubt.
    static let staleStagingAge: TimeInterval = 86_400
    /// The node id every `sftp-subsystem` process shares (its lock is shared).
    public static let subsystemNodeID = "subsystem"

    /// - Parameter startingUp: the server itself (`serve`): takes its node
    ///   lock exclusively, and a named node refuses to run beside a live
    ///   process with the same node id. Otherwise (the `sftp-subsystem` mode, side tools) the
    ///   lock is shared, and only taken when a node id is set.
    public init(configuration: DropBoxConfiguration, startingUp: Bool = true) throws {
        self.configuration = configuration
        let root = configuration.blobRoot ?? configuration.dataDirectory
        for folder in [
            configuration.dataDirectory, root, configuration.blobDirectory, configuration.stagingRoot, configuration.stagingDirectory,
            configuration.nodesDirectory,
        ] {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw PrivateDirectoryError("\(folder) is not a directory") }
                continue
            }
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                // Foundation's own text ("a file with the same name already exists") names no path.
                let reason = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError).map { String(cString: strerror(Int32($0.code))) }
                throw PrivateDirectoryError("cannot create the folder \(folder): \(reason ?? error.localizedDescription)")
            }
        }
        let lockPath = configuration.nodesDirectory + "/" + configuration.nodeLockName
        guard startingUp || configuration.nodeID != nil else {
            lock = -1
            return
        }
        let fd = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PrivateDirectoryError("cannot create the node lock \(lockPath): \(String(cString: strerror(errno)))") }
        if flock(fd, (startingUp ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            close(fd)
            // The unnamed node keeps the single-node rules it always had (a
            // restart on the same directory while the old process still
            // winds down, a second drop box opened in one process): only a
            // named node is refused.
            guard configuration.nodeID != nil else {
                lock = -1
                return
            }
            throw PrivateDirectoryError(
                "another sealdropd runs as node \"\(configuration.nodeID ?? "default")\" on \(root) (it holds \(lockPath)); "
                    + "give each node sharing a blob directory its own node-id")
        }
        lock = fd
    }

    deinit {
        if lock >= 0 { close(lock) }
    }

    /// Whether a process other than this one holds a node lock in the
    /// shared blob directory now (another node, or `sftp-subsystem`
    /// sessions): then a start-up must leave young orphans and unexpired
    /// leases alone, since that process may be about to commit them.
    func otherNodesAreLive() -> Bool {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.nodesDirectory)) ?? []
        where name.hasSuffix(".lock") && name != configuration.nodeLockName {
            let fd = open(configuration.nodesDirectory + "/" + name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return true }
            flock(fd, LOCK_UN)
        }
        return false
    }

    /// A new staging file, open for reading and writing, mode 0600.
    func createStaging() throws -> (fd: Int32, path: String) {
        let path = configuration.stagingDirectory + "/" + Hex.encode(SecureRandom.bytes(16)) + ".upload"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServerIOError("create a staging file", errno) }
        return (fd, path)
    }

    /// Moves a validated staging file into `blobs/`, durably; returns the blob name.
    func publish(stagingFD: Int32, stagingPath: String) throws -> String {
        guard fsync(stagingFD) == 0 else { throw ServerIOError("flush an upload", errno) }
        let name = Hex.encode(SecureRandom.bytes(16)) + ".blob"
        guard rename(stagingPath, configuration.blobDirectory + "/" + name) == 0 else { throw ServerIOError("publish an upload", errno) }
        syncDirectory(configuration.blobDirectory)
        return name
    }

    func openBlob(_ name: String) throws -> Int32 {
        let fd = open(configuration.blobDirectory + "/" + name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ServerIOError("open a stored transfer", errno) }
        return fd
    }

    /// Deletes a blob at once; a missing file is already the goal.
    func delete(_ name: String) {
        unlink(configuration.blobDirectory + "/" + name)
        syncDirectory(configuration.blobDirectory)
    }

    /// At start-up: nothing in this node's staging survives its restart (a
    /// half-finished upload is never published). Only files directly in
    /// it: other nodes' folders (and the `sftp-subsystem` one) are theirs.
    /// Returns how many files were removed.
    func cleanStaging() -> Int {
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.stagingDirectory)) ?? [] {
            var info = stat()
            let path = configuration.stagingDirectory + "/" + name
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFDIR else { continue }
            if unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    /// Files in other nodes' staging folders not written to since `limit`:
    /// left by a node that died and never restarted. Returns how many went.
    func removeStaleStaging(olderThan limit: Date) -> Int {
        var removed = 0
        for folder in (try? FileManager.default.contentsOfDirectory(atPath: configuration.stagingRoot)) ?? [] {
            let path = configuration.stagingRoot + "/" + folder
            guard path != configuration.stagingDirectory else { continue }
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let files = info.st_mode & S_IFMT == S_IFDIR ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).map { path + "/" + $0 } : []
            for file in files {
                var fileInfo = stat()
                guard lstat(file, &fileInfo) == 0, fileInfo.st_mode & S_IFMT == S_IFREG,
                    Double(fileInfo.st_mtim.tv_sec) < limit.timeIntervalSince1970
                else { continue }
                if unlink(file) == 0 { removed += 1 }
            }
        }
        return removed
    }

    /// For a sweep while sessions of other processes may be uploading:
    /// removes only staging files not modified since `limit`.
    func cleanStaging(untouchedSince limit: Date) -> Int {
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.stagingDirectory)) ?? [] {
            var info = stat()
            let path = configuration.stagingDirectory + "/" + name
            guard lstat(path, &info) == 0, Double(info.st_mtim.tv_sec) < limit.timeIntervalSince1970 else { continue }
            if unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    /// Blob files no pending transfer names (a crash between a transfer's
    /// end and its unlink leaves one). With `olderThan`, only those whose
    /// name last changed before it: a blob being published is renamed into
    /// place just before its transfer is committed.
    func orphans(keeping pending: Set<String>, olderThan limit: Date?) -> [(name: String, size: UInt64)] {
        var found = [(name: String, size: UInt64)]()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.blobDirectory)) ?? [] where !pending.contains(name) {
            var info = stat()
            guard lstat(configuration.blobDirectory + "/" + name, &info) == 0 else { continue }
            if let limit, Double(info.st_ctim.tv_sec) > limit.timeIntervalSince1970 { continue }
            found.append((name, UInt64(info.st_size)))
        }
        return found.sorted { $0.name < $1.name }
    }

    /// Unlinks one blob durably; true if it was there.
    func remove(_ name: String) -> Bool {
        guard unlink(configuration.blobDirectory + "/" + name) == 0 else { return false }
        syncDirectory(configuration.blobDirectory)
        return true
    }

    private func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}

/// A server-side file operation failed.
struct ServerIOError: Error, CustomStringConvertible {
    let operation: String
    let code: Int32

    init(_ operation: String, _ code: Int32) {
        self.operation = operation
        self.code = code
    }

    var description: String { "cannot \(operation): \(String(cString: strerror(code)))" }
}
