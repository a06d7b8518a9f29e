import Foundation
import SealdropFormat

/// Reading and writing key files, with errors that name the file.
enum KeyFiles {
    /// Key files are small; anything bigger is not a key.
    static let maximumKeyFileSize = 64 * 1024

    static func readText(_ path: String) throws(KeyFileError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw KeyFileError(.unreadable, "cannot read key file \(path): \(Self.reason(error))")
        }
        guard data.count <= maximumKeyFileSize else {
            throw KeyFileError(.notAKeyFile, "\(path) is \(data.count) bytes, too large to be a key file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw KeyFileError(.notAKeyFile, "\(path) is not a text key file")
        }
        return text
    }

    /// Writes `text` to `path` with `mode`, refusing to replace an existing file.
    static func write(_ text: String, to path: String, mode: Int) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw KeyFileError(.unwritable, "cannot create \(path): \(reason)")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else {
                let reason = String(cString: strerror(errno))
                unlink(path)
                throw KeyFileError(.unwritable, "cannot write \(path): \(reason)")
            }
            offset += written
        }
        // The mode given to open() is reduced by the umask; set it exactly.
        fchmod(fd, mode_t(mode))
        fsync(fd)
    }

    private static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError {
            return "no such file"
        }
        return nsError.localizedDescription
    }
}

extension KeyFileError {
    /// The same error, its message prefixed with the file it concerns.
    func naming(_ path: String) -> KeyFileError {
        message.contains(path) ? self : KeyFileError(code, "\(path): \(message)")
    }
}
