import Foundation
import SealdropCrypto
import SealdropFormat

/// Envelope files on disk. Uploads are written under `staging/` with
/// random names, out of every vendor's sight; a validated upload is fsynced
/// and renamed into `blobs/` (also a random name), and the directory fsynced.
/// No name under either folder ever comes from a client.
public final class BlobStore: Sendable {
    let configuration: DropBoxConfiguration

    public init(configuration: DropBoxConfiguration) throws {
        self.configuration = configuration
        for folder in [configuration.dataDirectory, configuration.blobDirectory, configuration.stagingDirectory] {
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

    /// At start-up: nothing in staging survives a restart (a half-finished
    /// upload is never published). Returns how many files were removed.
    func cleanStaging() -> Int {
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.stagingDirectory)) ?? [] {
            if unlink(configuration.stagingDirectory + "/" + name) == 0 { removed += 1 }
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
