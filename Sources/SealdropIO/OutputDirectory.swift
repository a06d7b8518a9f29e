#if canImport(Glibc)
    import Glibc
#endif

/// A folder the user chose (or the profile owns), held open by descriptor.
/// Every file made in it is named relative to that descriptor (`openat`,
/// `linkat`, `renameat`, `unlinkat`), by one plain name, never following a
/// link at that name, and new files are created exclusively: whatever name
/// reaches it, nothing can be written outside the folder, and a symbolic
/// link planted in it is refused rather than followed.
public final class OutputDirectory: @unchecked Sendable {
    /// Shown in messages and used to build the display path of entries.
    public let path: String
    let descriptor: Int32

    /// Opens `path`, which must be a directory (the user named it, so a
    /// link to a folder is accepted here, and only here).
    public init(path: String) throws(IOError) {
        let fd = try systemCall("open the folder", path) { open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        self.path = path.isEmpty ? "." : path
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }

    /// Longest file name Linux accepts (NAME_MAX).
    public static let maximumNameLength = 255

    /// Why `name` is not one plain file name, or nil: it must be non-empty,
    /// at most 255 bytes, without `/` or NUL, and not `.` or `..`.
    public static func problem(with name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > maximumNameLength { return "it is longer than \(maximumNameLength) bytes" }
        if bytes.contains(UInt8(ascii: "/")) || bytes.contains(0) { return "it contains a slash or a NUL byte" }
        if name == "." || name == ".." { return "it names a folder" }
        return nil
    }

    func checked(_ name: String) throws(IOError) -> String {
        guard Self.problem(with: name) == nil else { throw IOError("use the name", path: display(name), errno: EINVAL) }
        return name
    }

    /// `path/name` (just `name` in the working directory), for messages.
    public func display(_ name: String) -> String {
        if path == "." { return name }
        return path.hasSuffix("/") ? path + name : path + "/" + name
    }

    /// What sits at `name` (not following a link), or nil if nothing.
    public func status(_ name: String) throws(IOError) -> stat? {
        let name = try checked(name)
        var info = stat()
        if fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 { return info }
        guard errno == ENOENT else { throw IOError("inspect", path: display(name), errno: errno) }
        return nil
    }

    public func exists(_ name: String) throws(IOError) -> Bool {
        try status(name) != nil
    }

    /// Opens or creates `name` (mode 0600) for reading and writing, as a
    /// regular file with a single link: a link, a folder, a device or a
    /// hard link to someone else's file is refused.
    public func openPrivateFile(_ name: String, create: Bool, exclusive: Bool = false) throws(IOError) -> FileDescriptor {
        let name = try checked(name)
        var flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC
        if create { flags |= O_CREAT }
        if exclusive { flags |= O_EXCL }
        let fd = try systemCall("open", display(name)) { openat(descriptor, name, flags, 0o600) }
        let file = FileDescriptor(rawValue: fd, path: display(name), owns: true)
        var info = stat()
        try systemCall("inspect", display(name)) { fstat(fd, &info) }
        guard info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1 else { throw IOError("use", path: display(name), errno: EPERM) }
        return file
    }

    /// Opens an existing regular file for reading, not following a link.
    public func openForReading(_ name: String) throws(IOError) -> FileDescriptor {
        let name = try checked(name)
        let fd = try systemCall("open", display(name)) { openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        let file = FileDescriptor(rawValue: fd, path: display(name), owns: true)
        var info = stat()
        try systemCall("inspect", display(name)) { fstat(fd, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw IOError("read", path: display(name), errno: EISDIR) }
        return file
    }

    /// Removes `name` if it is there (never a folder).
    public func remove(_ name: String) throws(IOError) {
        let name = try checked(name)
        if unlinkat(descriptor, name, 0) != 0, errno != ENOENT { throw IOError("remove", path: display(name), errno: errno) }
    }

    /// Flushes the folder itself, so a link or rename made in it survives a crash.
    public func synchronize() throws(IOError) {
        try systemCall("sync the folder", path) { fsync(descriptor) }
    }
}
