#if canImport(Glibc)
import Glibc
#endif

/// A file that appears at its destination complete or not at all.
///
/// Bytes go to a private temporary file (mode 0600) in the destination's
/// directory; `commit()` flushes it and moves it into place in one step.
/// Released without `commit()`, the temporary file is deleted, so a failed
/// or interrupted run never leaves a partial file under the final name.
public final class AtomicOutputFile: ByteSink {
    public let destination: String
    public let temporaryPath: String
    private let file: FileDescriptor
    private let mode: mode_t
    private let overwrite: Bool
    private var committed = false
    private let cleanupSlot: Int?

    /// - Parameters:
    ///   - mode: permissions of the finished file.
    ///   - overwrite: replace an existing destination; otherwise `commit()`
    ///     fails if one appeared meanwhile, and `init` fails if one exists.
    public init(destination: String, mode: mode_t = 0o600, overwrite: Bool = false) throws(IOError) {
        if !overwrite, access(destination, F_OK) == 0 {
            throw IOError("write", path: destination, errno: EEXIST)
        }
        let (directory, name) = Self.split(destination)
        let (fd, path) = try TemporaryName.create(template: "\(directory)/.\(name).partial.XXXXXX", describing: destination)
        temporaryPath = path
        cleanupSlot = InterruptCleanup.register(temporaryPath)
        file = FileDescriptor(rawValue: fd, path: temporaryPath, owns: true)
        self.destination = destination
        self.mode = mode
        self.overwrite = overwrite
    }

    deinit {
        if !committed { unlink(temporaryPath) }
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
        try systemCall("set permissions on", temporaryPath) { fchmod(file.rawValue, mode) }
        if overwrite {
            try systemCall("rename into place", destination) { rename(temporaryPath, destination) }
        } else {
            // link() refuses an existing name, unlike rename(): no clobbering
            // a file that appeared while we were writing.
            try systemCall("create", destination) { link(temporaryPath, destination) }
            unlink(temporaryPath)
        }
        committed = true
        let (directory, _) = Self.split(destination)
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}
