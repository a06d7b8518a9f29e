#if canImport(Glibc)
    import Glibc
#endif

/// An unnamed temporary file (mode 0600, never linked into a directory,
/// gone when closed), for holding output that may not be released until it
/// has been verified, such as plaintext bound for standard output.
public final class SpoolFile: ByteSource, ByteSink {
    private let file: FileDescriptor

    public init(directory: String? = nil) throws(IOError) {
        let directory = directory ?? Self.temporaryDirectory()
        var fd = open(directory, Self.openTemporaryFile | O_RDWR | O_CLOEXEC, 0o600)
        if fd < 0 {
            // Some file systems lack O_TMPFILE: create, then unlink at once.
            let (created, path) = try TemporaryName.create(template: "\(directory)/.sealdrop-spool.XXXXXX", describing: directory)
            unlink(path)
            fd = created
        }
        file = FileDescriptor(rawValue: fd, path: "a temporary file in \(directory)", owns: true)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try file.write(bytes)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try file.read(into: buffer)
    }

    public func rewind() throws(IOError) {
        try file.rewind()
    }

    /// Linux's O_TMPFILE (`__O_TMPFILE | O_DIRECTORY`), which Glibc's module
    /// does not export because it sits behind _GNU_SOURCE.
    static let openTemporaryFile: Int32 = 0o20000000 | O_DIRECTORY

    static func temporaryDirectory() -> String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }
}
