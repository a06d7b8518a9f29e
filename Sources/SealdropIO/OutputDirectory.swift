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
        // A file someone else planted (or may still write) must not be
        // continued: they could feed it bytes or read what is added.
        guard info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            throw IOError("use", path: display(name) + " (another user owns it, or others may read or write it; it must be yours, mode 0600)", errno: EPERM)
        }
        return file
    }

    /// Why others could swap files in this folder, or nil: a folder that
    /// someone else may write to (group or others, or another owner than
    /// you or root) without the sticky bit lets them rename or replace any
    /// file in it, a part file or an output among them. Sticky shared
    /// folders such as /tmp are fine: there only a file's owner may.
    public func sharedWritableProblem() throws(IOError) -> String? {
        var info = stat()
        try systemCall("inspect the folder", path) { fstat(descriptor, &info) }
        guard info.st_mode & S_ISVTX == 0 else { return nil }
        if info.st_mode & (S_IWGRP | S_IWOTH) != 0 { return "others may write to it (mode \(String(info.st_mode & 0o7777, radix: 8)), no sticky bit)" }
        if info.st_uid != geteuid(), info.st_uid != 0 { return "it belongs to another user (uid \(info.st_uid))" }
        return nil
    }

    /// Bytes an unprivileged user may still write to the folder's file system.
    public func availableBytes() throws(IOError) -> UInt64 {
        var info = statvfs()
        try systemCall("inspect the file system of", path) { fstatvfs(descriptor, &info) }
        return UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue
    }

    /// The first `count` bytes (fewer if it is shorter) of the regular file `name`, not following a link.
    public func readPrefix(_ name: String, count: Int) throws(IOError) -> [UInt8] {
        let file = try openForReading(name)
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var read = 0
        while read < count {
            let offset = read
            let got = bytes.withUnsafeMutableBytes { pread(file.rawValue, $0.baseAddress! + offset, count - offset, off_t(offset)) }
            if got < 0, errno == EINTR { continue }
            if got < 0 { throw IOError("read", path: display(name), errno: errno) }
            if got == 0 { break }
            read += got
        }
        return Array(bytes.prefix(read))
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
