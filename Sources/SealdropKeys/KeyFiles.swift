import Foundation
import SealdropFormat
import SealdropIO

/// Reading and writing key files, with errors that name the file.
enum KeyFiles {
    /// Key files are small; anything bigger is not a key.
    static let maximumKeyFileSize = 64 * 1024

    /// Reads at most `maximumKeyFileSize` bytes, from a file or a pipe
    /// (`--to <(...)`, `--identity /dev/stdin`).
    static func readText(_ path: String) throws(KeyFileError) -> String {
        var bytes = [UInt8](repeating: 0, count: maximumKeyFileSize + 1)
        let count: Int
        do {
            var file = try FileDescriptor.openForReading(path)
            count = try bytes.withUnsafeMutableBytes { try file.readFully(into: $0) }
        } catch {
            throw KeyFileError(.unreadable, "cannot read key file \(error)")
        }
        defer { bytes.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        guard count <= maximumKeyFileSize else {
            throw KeyFileError(.notAKeyFile, "\(path) is larger than \(maximumKeyFileSize) bytes, too large to be a key file")
        }
        guard let text = String(validating: bytes[0..<count], as: UTF8.self) else {
            throw KeyFileError(.notAKeyFile, "\(path) is not a text key file")
        }
        return text
    }

    /// Writes `text` to `path` with `mode`, complete or not at all, refusing
    /// to replace an existing file.
    static func write(_ text: String, to path: String, mode: Int) throws(KeyFileError) {
        do {
            var file = try AtomicOutputFile(destination: path, mode: mode_t(mode))
            try file.write(Array(text.utf8))
            try file.commit()
        } catch let error as IOError where error.errno == EEXIST {
            throw KeyFileError(.unwritable, "\(path) already exists; choose another path or remove it first")
        } catch {
            throw KeyFileError(.unwritable, "cannot write \(path): \(error)")
        }
    }
}

extension KeyFileError {
    /// The same error, its message prefixed with the file it concerns.
    func naming(_ path: String) -> KeyFileError {
        message.contains(path) ? self : KeyFileError(code, "\(path): \(message)")
    }
}
