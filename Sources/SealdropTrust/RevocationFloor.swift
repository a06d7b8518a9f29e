import Foundation
import SealdropIO

/// The highest revocation list number a reader has accepted, kept in a
/// small file so that an older list (which would undo revocations) is
/// refused later. An unreadable or garbled file, or one that cannot be
/// raised, is an error: silently starting again from zero would give the
/// rollback protection away.
public struct RevocationFloor: Sendable {
    public let file: String
    public let number: UInt64

    /// Reads the floor; a missing file means no list was seen yet.
    public init(file: String) throws(TrustError) {
        self.file = file
        var info = stat()
        guard lstat(file, &info) == 0 else {
            guard errno == ENOENT else {
                throw TrustError(.trustStoreUnreadable, "cannot read the revocation list number in \(file): \(String(cString: strerror(errno)))")
            }
            number = 0
            return
        }
        guard info.st_mode & S_IFMT == S_IFREG, info.st_size <= 64, let data = FileManager.default.contents(atPath: file),
            let value = UInt64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw TrustError(.trustStoreUnreadable, "\(file) does not hold a revocation list number; remove it only if you know it was corrupted")
        }
        number = value
    }

    /// Records `store`'s list number when it is newer, atomically and durably.
    public func raise(to store: TrustStore) throws(TrustError) {
        guard let number = store.revocations?.number, number > self.number else { return }
        try raise(to: number)
    }

    /// Records `number` unless the file already holds a higher one. Two
    /// readers may run at once (two commands of one profile): under an
    /// exclusive lock on `FILE.lock` the file is read again, so a reader
    /// that loaded an older floor can never lower what another one wrote.
    public func raise(to number: UInt64) throws(TrustError) {
        do {
            try FileLock.withExclusiveLock(file + ".lock") {
                guard number > (try RevocationFloor(file: file)).number else { return }
                let output = try AtomicOutputFile(destination: file, mode: 0o600, overwrite: true)
                try Array("\(number)\n".utf8).withUnsafeBytes { try output.write($0) }
                try output.commit()
            }
        } catch let error as TrustError {
            throw error
        } catch {
            throw TrustError(.trustStoreUnreadable, "cannot record revocation list number \(number) in \(file): \(error)")
        }
    }
}
