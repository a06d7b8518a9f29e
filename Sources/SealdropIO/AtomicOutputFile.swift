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
    private let directory: OutputDirectory
    private let name: String
    private let file: FileDescriptor
    /// Set only for the named fallback: its name in `directory`.
    private let temporaryName: String?
    private let mode: mode_t
    private let overwrite: Bool
    private var committed = false
    private let cleanupSlot: Int?

    /// - Parameters:
    ///   - mode: permissions of the finished file.
    ///   - overwrite: replace an existing destination; otherwise `commit()`
    ///     fails if one appeared meanwhile, and `init` fails if one exists.
    public convenience init(destination: String, mode: mode_t = 0o600, overwrite: Bool = false) throws(IOError) {
        guard !destination.isEmpty else { throw IOError("write", path: "an empty path", errno: ENOENT) }
        let (directory, name) = Self.split(destination)
        guard OutputDirectory.problem(with: name) == nil else { throw IOError("write", path: destination, errno: EISDIR) }
        try self.init(in: try OutputDirectory(path: directory), name: name, mode: mode, overwrite: overwrite, shownAs: destination)
    }

    /// A file to appear as `name` in `directory`, made only with calls
    /// relative to the folder's descriptor: `name` is one plain file name
    /// and a link planted at it is replaced (with `overwrite`) or refused,
    /// never followed.
    public convenience init(in directory: OutputDirectory, name: String, mode: mode_t = 0o600, overwrite: Bool = false) throws(IOError) {
        try self.init(in: directory, name: name, mode: mode, overwrite: overwrite, shownAs: directory.display(name))
    }

    private init(in directory: OutputDirectory, name: String, mode: mode_t, overwrite: Bool, shownAs destination: String) throws(IOError) {
        let name = try directory.checked(name)
        if let info = try directory.status(name) {
            if info.st_mode & S_IFMT == S_IFDIR { throw IOError("write", path: destination, errno: EISDIR) }
            if !overwrite { throw IOError("write", path: destination, errno: EEXIST) }
        }
        let unnamed = openat(directory.descriptor, ".", SpoolFile.openTemporaryFile | O_WRONLY | O_CLOEXEC, 0o600)
        if unnamed >= 0 {
            file = FileDescriptor(rawValue: unnamed, path: destination, owns: true)
            temporaryName = nil
            cleanupSlot = nil
        } else {
            var made: (Int32, String)?
            for _ in 0..<16 where made == nil {
                let candidate = ".sealdrop.\(TemporaryName.randomSuffix()).partial"
                let fd = openat(directory.descriptor, candidate, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if fd >= 0 {
                    made = (fd, candidate)
                } else if errno != EEXIST {
                    throw IOError("create a temporary file for", path: directory.display(name), errno: errno)
                }
            }
            guard let (fd, candidate) = made else { throw IOError("create a temporary file for", path: directory.display(name), errno: EEXIST) }
            file = FileDescriptor(rawValue: fd, path: directory.display(candidate), owns: true)
            temporaryName = candidate
            cleanupSlot = InterruptCleanup.register(directory.display(candidate))
        }
        self.directory = directory
        self.name = name
        self.destination = destination
        self.mode = mode
        self.overwrite = overwrite
    }

    deinit {
        if !committed, let temporaryName { unlinkat(directory.descriptor, temporaryName, 0) }
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
        let folder = directory.descriptor
        // An unnamed file is linked from its descriptor's /proc entry.
        let (sourceFolder, source) = temporaryName.map { (folder, $0) } ?? (AT_FDCWD, "/proc/self/fd/\(file.rawValue)")
        let sourceFlags = temporaryName == nil ? AT_SYMLINK_FOLLOW : 0
        if overwrite {
            // Give it a hidden name first, then rename over the destination in one step.
            let hidden = temporaryName ?? ".sealdrop.\(TemporaryName.randomSuffix()).partial"
            if temporaryName == nil {
                try systemCall("create", directory.display(hidden)) { linkat(sourceFolder, source, folder, hidden, sourceFlags) }
            }
            do {
                try systemCall("rename into place", destination) { renameat(folder, hidden, folder, name) }
            } catch {
                unlinkat(folder, hidden, 0)
                throw error
            }
        } else {
            // link() refuses an existing name, unlike rename(): nothing that
            // appeared while we were writing is clobbered.
            do {
                try systemCall("create", destination) { linkat(sourceFolder, source, folder, name, sourceFlags) }
            } catch let error where temporaryName != nil && (error.errno == EPERM || error.errno == EOPNOTSUPP) {
                // File systems without hard links (vfat, some SMB mounts).
                guard try directory.status(name) == nil else { throw IOError("create", path: destination, errno: EEXIST) }
                try systemCall("rename into place", destination) { renameat(folder, source, folder, name) }
            }
            if let temporaryName { unlinkat(folder, temporaryName, 0) }
        }
        committed = true
        _ = try? directory.synchronize()
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}
