import Foundation

/// The data directory holds ciphertext, metadata and the server's keys: it
/// is the server's alone. At start it must belong to the server's user;
/// it is made 0700, every folder in it 0700 and every file 0600, saying so
/// when a mode was looser.
enum PrivateDirectory {
    /// Checks and tightens `path` (absent: nothing to do, it is created 0700).
    /// `alsoOwn`: other names that mark it as the server's (the trust
    /// store's folder, when the operator keeps it inside the data directory).
    static func secure(_ path: String, alsoOwn: Set<String> = [], log: (String) -> Void) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            guard errno == ENOENT else { throw PrivateDirectoryError("cannot inspect the data directory \(path): \(String(cString: strerror(errno)))") }
            return
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw PrivateDirectoryError("the data directory \(path) is not a directory") }
        guard info.st_uid == geteuid() else {
            throw PrivateDirectoryError(
                "the data directory \(path) belongs to user id \(info.st_uid), not to the user running sealdropd (\(geteuid())); "
                    + "run the server as its owner or give it a directory of its own")
        }
        try checkIsDropBox(path, alsoOwn: alsoOwn)
        var loosened = [String]()
        try tighten(path, info: info, directory: true, loosened: &loosened)
        for folder in [path, path + "/blobs", path + "/staging"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                let entry = folder + "/" + name
                var entryInfo = stat()
                guard lstat(entry, &entryInfo) == 0 else { continue }
                let kind = entryInfo.st_mode & S_IFMT
                // Symbolic links are left alone: chmod would act on their target.
                guard kind == S_IFREG || kind == S_IFDIR else { continue }
                guard entryInfo.st_uid == geteuid() else {
                    throw PrivateDirectoryError("\(entry) belongs to user id \(entryInfo.st_uid), not to the user running sealdropd; fix its owner")
                }
                try tighten(entry, info: entryInfo, directory: kind == S_IFDIR, loosened: &loosened)
            }
        }
        if !loosened.isEmpty {
            log("data directory: tightened the modes of \(loosened.count) entries to 0700/0600 (\(loosened.prefix(5).joined(separator: ", ")))")
        }
    }

    /// Names the server itself creates in its data directory, any of which
    /// marks a drop box (and `lost+found`, which a dedicated file system has).
    static let ownNames: Set<String> = [
        "metadata.sqlite", "blobs", "staging", "ssh_host_ed25519_key", "receipt_ed25519_key", "revocation-list-number", "nodes",
        DropBox.logHeadFile,
    ]

    /// An existing directory is taken over only when it is empty or already
    /// a drop box: `--data /` or `--data /home` by mistake must not make
    /// every entry there 0700/0600.
    private static func checkIsDropBox(_ path: String, alsoOwn: Set<String>) throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0 != "lost+found" }
        guard names.isEmpty || names.contains(where: { ownNames.contains($0) || alsoOwn.contains($0) }) else {
            let shown = names.sorted().prefix(3).map { "\"\($0)\"" }.joined(separator: ", ")
            throw PrivateDirectoryError(
                "the data directory \(path) holds other files (\(shown)\(names.count > 3 ? ", ..." : "")) and is not a drop box; "
                    + "give sealdropd an empty directory of its own")
        }
    }

    private static func tighten(_ path: String, info: stat, directory: Bool, loosened: inout [String]) throws {
        let wanted: mode_t = directory ? 0o700 : 0o600
        let mode = info.st_mode & 0o7777
        guard mode != wanted else { return }
        guard chmod(path, wanted) == 0 else {
            throw PrivateDirectoryError("cannot make \(path) private (mode \(String(wanted, radix: 8))): \(String(cString: strerror(errno)))")
        }
        loosened.append("\(path) was \(String(mode, radix: 8))")
    }
}

/// The data directory cannot be made private.
public struct PrivateDirectoryError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
