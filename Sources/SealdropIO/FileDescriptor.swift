#if canImport(Glibc)
    import Glibc
#endif

/// Owns one open file descriptor and closes it when released.
public final class FileDescriptor: ByteSource, ByteSink {
    public let rawValue: Int32
    /// Shown in error messages.
    public let path: String
    private let ownsDescriptor: Bool

    init(rawValue: Int32, path: String, owns: Bool) {
        self.rawValue = rawValue
        self.path = path
        self.ownsDescriptor = owns
    }

    deinit {
        if ownsDescriptor { close(rawValue) }
    }

    /// Wraps a descriptor someone else owns and closes.
    public convenience init(unowned rawValue: Int32, path: String) {
        self.init(rawValue: rawValue, path: path, owns: false)
    }

    public static var standardInput: FileDescriptor { FileDescriptor(rawValue: 0, path: "standard input", owns: false) }
    public static var standardOutput: FileDescriptor { FileDescriptor(rawValue: 1, path: "standard output", owns: false) }

    /// Opens an existing file for reading.
    public static func openForReading(_ path: String) throws(IOError) -> FileDescriptor {
        let fd = try systemCall("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        var info = stat()
        try systemCall("stat", path) { fstat(fd, &info) }
        if info.st_mode & S_IFMT == S_IFDIR {
            close(fd)
            throw IOError("read", path: path, errno: EISDIR)
        }
        return FileDescriptor(rawValue: fd, path: path, owns: true)
    }

    /// The size of a regular file, or nil for pipes and terminals.
    public func regularFileSize() -> UInt64? {
        var info = stat()
        guard fstat(rawValue, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return UInt64(info.st_size)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try systemCall("read", path) { Glibc.read(rawValue, base, buffer.count) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = try systemCall("write", path) {
                Glibc.write(rawValue, bytes.baseAddress! + offset, bytes.count - offset)
            }
            offset += written
        }
    }

    /// Flushes written data to the disk.
    public func synchronize() throws(IOError) {
        try systemCall("sync", path) { fsync(rawValue) }
    }

    public func rewind() throws(IOError) {
        try systemCall("seek", path) { lseek(rawValue, 0, SEEK_SET) }
    }
}
