#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive advisory lock on a `.lock` file beside a small state file,
/// for read-again-then-rewrite updates that two commands of one profile
/// (or two server processes) may run at once.
public enum FileLock {
    /// Runs `body` while holding an exclusive `flock` on `path` (created
    /// 0600, never through a symbolic link); the lock goes with the descriptor.
    public static func withExclusiveLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let fd = try systemCall("create the lock file", path) { open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        defer { close(fd) }
        try systemCall("lock", path) { flock(fd, LOCK_EX) }
        return try body()
    }
}
