import Foundation

/// The exposition as a file for node_exporter's textfile collector: each
/// write goes to a temporary name in the same directory (which the collector
/// skips: it reads `*.prom` only), is flushed to disk, made 0644 and renamed
/// over the file, so a reader sees the previous whole file or the new whole
/// file, never part of one.
public struct MetricsTextfile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The temporary name: a dot file beside the target, this process's own.
    var temporaryPath: String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp").path
    }

    public func write(_ bytes: [UInt8]) throws(MetricsFileError) {
        let temporary = temporaryPath
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw MetricsFileError(path: temporary, "cannot create", errno) }
        var failure: (String, Int32)?
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                failure = ("cannot write", n < 0 ? errno : ENOSPC)
                break
            }
            written += n
        }
        // The server's umask makes its files private; this one is for the collector to read.
        if failure == nil, fchmod(fd, 0o644) != 0 { failure = ("cannot set the mode of", errno) }
        if failure == nil, fsync(fd) != 0 { failure = ("cannot flush", errno) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = ("cannot rename into place", errno) }
        if let (what, code) = failure {
            unlink(temporary)
            throw MetricsFileError(path: path, what, code)
        }
    }
}

/// A metrics file that could not be written: the server goes on serving.
public struct MetricsFileError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public let code: Int32

    init(path: String, _ what: String, _ code: Int32) {
        self.path = path
        self.code = code
        message = "\(what) \(path): \(String(cString: strerror(code)))"
    }

    public var description: String { message }
}
