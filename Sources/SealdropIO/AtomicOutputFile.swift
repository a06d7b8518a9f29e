#if canImport(Glibc)
    import Glibc
#endif

/// A file that appears at its destination complete or not at all.
///
/// Bytes go to an unnamed file (O_TMPFILE, mode 0600) in the destination's
/// directory: until `commit()` links it into place, it has no name, so not
/// even a crash or SIGKILL can leave a partial file behind. File systems
/// without O_TMPFILE get a hidden named temporary file instead, removed on
/// release and on SIGINT/SIGTERM/SIGHUP (`InterruptCleanup`).
public final class AtomicOutputFile: ByteSink {
    public let destination: String
    private let file: FileDescriptor
    /// Set only for the named fallback.
    private let temporaryPath: String?
    private let mode: mode_t
    private let overwrite: Bool
    private var committed = false
    private let cleanupSlot: Int?

    /// - Parameters:
    ///   - mode: permissions of the finished file.
    ///   - overwrite: replace an existing destination; otherwise `commit()`
    ///     fails if one appeared meanwhile, and `init` fails if one exists.
    public init(destination: String, mode: mode_t = 0o600, overwrite: Bool = false) throws(IOError) {
        guard !destination.isEmpty else { throw IOError("write", path: "an empty path", errno: ENOENT) }
        var info = stat()
        if lstat(destination, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { throw IOError("write", path: destination, errno: EISDIR) }
            if !overwrite { throw IOError("write", path: destination, errno: EEXIST) }
        }
        let (directory, _) = Self.split(destination)
        let unnamed = open(directory, SpoolFile.openTemporaryFile | O_WRONLY | O_CLOEXEC, 0o600)
        if unnamed >= 0 {
            file = FileDescriptor(rawValue: unnamed, path: destination, owns: true)
            temporaryPath = nil
            cleanupSlot = nil
        } else {
            let (fd, path) = try TemporaryName.create(template: "\(directory)/.sealdrop.XXXXXX.partial", describing: destination)
            file = FileDescriptor(rawValue: fd, path: path, owns: true)
            temporaryPath = path
            cleanupSlot = InterruptCleanup.register(path)
        }
        self.destination = destination
        self.mode = mode
        self.overwrite = overwrite
    }

    deinit {
        if !committed, let temporaryPath { unlink(temporaryPath) }
        InterruptCleanup.unregister(cleanupSlot)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!committed, "write after commit")
        try file.write(bytes)
    }

    /// Makes the file visible under its destination name, durably.
    public func commit() throws(IOError) {
        precondition(!committed, "commit twice")
        try file.synchronize()
        try systemCall("set permissions on", destination) { fchmod(file.rawValue, mode) }
        let (directory, _) = Self.split(destination)
        let source = temporaryPath ?? "/proc/self/fd/\(file.rawValue)"
        if overwrite {
            // Give it a hidden name first, then rename over the destination in one step.
            let hidden = temporaryPath ?? "\(directory)/.sealdrop.\(getpid()).\(file.rawValue).partial"
            if temporaryPath == nil {
                try systemCall("create", hidden) { linkat(AT_FDCWD, source, AT_FDCWD, hidden, AT_SYMLINK_FOLLOW) }
            }
            do {
                try systemCall("rename into place", destination) { rename(hidden, destination) }
            } catch {
                unlink(hidden)
                throw error
            }
        } else {
            // link() refuses an existing name, unlike rename(): nothing that
            // appeared while we were writing is clobbered.
            do {
                try systemCall("create", destination) { linkat(AT_FDCWD, source, AT_FDCWD, destination, AT_SYMLINK_FOLLOW) }
            } catch let error where temporaryPath != nil && (error.errno == EPERM || error.errno == EOPNOTSUPP) {
                // File systems without hard links (vfat, some SMB mounts).
                var info = stat()
                guard lstat(destination, &info) != 0 else { throw IOError("create", path: destination, errno: EEXIST) }
                try systemCall("rename into place", destination) { rename(source, destination) }
            }
            if let temporaryPath { unlink(temporaryPath) }
        }
        committed = true
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = try? systemCall("sync the directory of", destination) { fsync(directoryFD) }
            close(directoryFD)
        }
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}
