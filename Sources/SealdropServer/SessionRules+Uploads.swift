import Foundation
import SealdropLayout
import SealdropSFTP

/// A name in an outbox folder, as the uploading client gave it.
struct OutboxName: Hashable {
    let recipient: String
    let name: String
}

/// What became of one of this session's own uploads.
enum OwnUpload: Equatable {
    /// Still being written (or checked) under this handle.
    case open(handle: [UInt8])
    /// Published as a transfer of this many bytes.
    case published(size: UInt64)
}

/// The session's own uploads, visible to itself only. The outbox stays
/// write-only to everyone else, but clients (paramiko, rclone, sshfs) STAT
/// what they just wrote and call the upload failed when told it is absent;
/// others upload to a temporary name and RENAME it. Only names this session
/// wrote are shown, and a rename changes only the remembered name: the
/// published transfer's name is its id, whatever the client called it.
extension SessionRules {
    /// Upload permissions as STAT and FSTAT show them: write-only, as the outbox is.
    static let uploadMode = SFTPAttributes.regularFile | 0o200

    /// STAT/LSTAT of an outbox file: this session's own upload, or no such file.
    func ownUploadAttributes(_ key: OutboxName) throws -> SFTPAttributes {
        switch ownUploads[key] {
        case .open(let handle):
            var size: UInt64 = 0
            if case .upload(let progress)? = handles[handle]?.content { size = progress.size }
            return SFTPAttributes(size: size, permissions: Self.uploadMode)
        case .published(let size):
            return SFTPAttributes(size: size, permissions: Self.uploadMode)
        case nil:
            throw Refusal(.noSuchFile, "no such file or directory", .notFound)
        }
    }

    mutating func rememberUpload(_ key: OutboxName, handle: [UInt8]) {
        if ownUploads.count >= Self.maximumRememberedUploads, let old = ownUploads.first(where: { if case .published = $0.value { true } else { false } }) {
            ownUploads[old.key] = nil
        }
        ownUploads[key] = .open(handle: handle)
    }

    /// The upload under `handle` was published (or was already, by an identical retry).
    mutating func uploadPublished(handle: [UInt8], size: UInt64) {
        for (key, value) in ownUploads where value == .open(handle: handle) { ownUploads[key] = .published(size: size) }
    }

    /// The upload under `handle` will not be published: its name is forgotten.
    mutating func uploadDiscarded(handle: [UInt8]) {
        for (key, value) in ownUploads where value == .open(handle: handle) { ownUploads[key] = nil }
    }

    /// RENAME within one outbox folder of an upload this session made: the
    /// remembered name changes, nothing stored does.
    mutating func rename(_ source: VirtualPath, to raw: [UInt8], id: UInt32) throws -> SessionAction {
        guard case .outboxFile(let recipient, let name) = source, let upload = ownUploads[OutboxName(recipient: recipient, name: name)] else {
            throw Refusal(.noSuchFile, "no such file or directory", .notFound)
        }
        guard case .outboxFile(recipient, let newName)? = VirtualPath.resolve(raw) else {
            throw Refusal(.permissionDenied, "rename refused: an upload can only be renamed within its outbox folder", .operationDenied)
        }
        let target = OutboxName(recipient: recipient, name: newName)
        guard newName != name else { return .reply(.status(id: id, code: .ok, message: "")) }
        guard ownUploads[target] == nil else { throw Refusal(.failure, "rename refused: \(target.name) already exists", .badRequest) }
        ownUploads[OutboxName(recipient: recipient, name: name)] = nil
        ownUploads[target] = upload
        return .reply(.status(id: id, code: .ok, message: ""))
    }
}
