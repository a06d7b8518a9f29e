#if canImport(Glibc)
    import Glibc
#endif

/// A file operation failed; the message names the path and the system's reason.
public struct IOError: Error, Equatable, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "cannot \(operation) \(path): \(String(cString: strerror(errno)))"
    }
}

/// Runs a system call, retrying on EINTR, and turns -1 into `IOError`.
@discardableResult
func systemCall<T: BinaryInteger>(_ operation: String, _ path: String, _ body: () -> T) throws(IOError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code != EINTR { throw IOError(operation, path: path, errno: code) }
    }
}
