import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropLayout
import SealdropSFTP
import SealdropStore
import SealdropTrust

/// One vendor's SFTP session over the virtual tree: decoded requests in,
/// replies out. The transport (a libssh channel, or stdin/stdout as an
/// OpenSSH subsystem) only moves bytes; every rule lives here and in
/// `SFTPOperationTable`.
public final class SFTPSession {
    /// Open handles per session; OpenSSH's client uses a handful.
    static let maximumHandles = 64
    /// Uploads open at once in one session; OpenSSH's client uploads one file at a time.
    static let maximumUploadsPerSession = 4
    /// The most one READ returns: well under the 256 KiB packet limit.
    static let maximumReadLength = 128 * 1024
    /// Served ranges are written to the store at least this often (bytes):
    /// 1 records every READ, committed before its bytes leave, so once every
    /// byte went out no crash can make the transfer servable again.
    static let servedFlushInterval: UInt64 = 1
    /// Disjoint served ranges kept per download; sequential and pipelined
    /// reads need a handful, so more means a client scattering tiny reads.
    static let maximumServedRanges = 1024

    let dropBox: DropBox
    public let vendor: VerifiedParty
    let sourceAddress: String
    /// Random per session; names the download claim.
    let sessionID = Hex.encode(SecureRandom.bytes(12))
    let startedAt = Date()
    var handles: [String: OpenHandle] = [:]
    private var nextHandle: UInt64 = 1
    private var initialized = false

    public init(dropBox: DropBox, vendor: VerifiedParty, sourceAddress: String) {
        self.dropBox = dropBox
        self.vendor = vendor
        self.sourceAddress = sourceAddress
    }

    deinit {
        end()
    }

    /// The replies to one request (usually one).
    public func handle(_ message: SFTPMessage) -> [SFTPMessage] {
        if case .initialize = message {
            initialized = true
            return [.version(version: SFTPLimits.version, extensions: [])]
        }
        guard let id = message.requestID else { return [] }
        guard initialized else { return [.status(id: id, code: .failure, message: "the session must start with SSH_FXP_INIT")] }
        do {
            return [try dispatch(message, id: id)]
        } catch let refusal as Refusal {
            return [.status(id: id, code: refusal.code, message: refusal.message)]
        } catch {
            dropBox.log("\(vendor.name): request \(message.packetType) failed: \(error)")
            return [.status(id: id, code: .failure, message: "the server could not complete the request")]
        }
    }

    /// The answer to an undecodable packet, if it had a readable id.
    public func reply(to error: SFTPError) -> SFTPMessage? {
        error.requestID.map { .status(id: $0, code: .badMessage, message: error.message) }
    }

    /// Session over: unfinished uploads are discarded, download claims
    /// released (with their progress kept for a resume).
    public func end() {
        for key in Array(handles.keys) {
            if let handle = handles.removeValue(forKey: key) { abandon(handle) }
        }
    }

    private func dispatch(_ message: SFTPMessage, id: UInt32) throws -> SFTPMessage {
        try SFTPOperationTable.check(message)
        switch message {
        case .realpath(_, let raw):
            let path = try resolve(raw)
            _ = try attributes(of: path)
            return .name(id: id, entries: [SFTPNameEntry(filename: Array(path.canonical.utf8), longname: Array(path.canonical.utf8), attributes: .empty)])
        case .stat(_, let raw), .lstat(_, let raw):
            return .attributes(id: id, attributes: try attributes(of: try resolve(raw)))
        case .fstat(_, let handle):
            return .attributes(id: id, attributes: try fstat(try lookup(handle)))
        case .opendir(_, let raw):
            let path = try resolve(raw)
            guard path.isDirectory else { throw Refusal(.noSuchFile, "\(path.canonical) is not a directory") }
            return .handle(id: id, handle: try register(.listing(try listing(of: path), next: 0)))
        case .readdir(_, let handle):
            return try readdir(handle, id: id)
        case .open(_, let raw, let flags, _):
            return .handle(id: id, handle: try register(try open(try resolve(raw), flags: flags)))
        case .read(_, let handle, let offset, let length):
            return try read(handle, offset: offset, length: length, id: id)
        case .write(_, let handle, let offset, let data):
            try write(handle, offset: offset, data: data)
            return .status(id: id, code: .ok, message: "")
        case .close(_, let handle):
            return .status(id: id, code: .ok, message: try close(handle))
        case .remove(_, let raw):
            try remove(try resolve(raw))
            return .status(id: id, code: .ok, message: "")
        case .setstat(_, let raw, _):
            // Permission and time changes on an upload are accepted and ignored:
            // stored files are always 0600 and keep their upload time.
            guard case .outboxFile = try resolve(raw) else { throw Refusal(.permissionDenied, "attributes cannot be changed here") }
            return .status(id: id, code: .ok, message: "")
        case .fsetstat(_, let handle, _):
            guard case .upload = try lookup(handle) else { throw Refusal(.permissionDenied, "attributes cannot be changed here") }
            return .status(id: id, code: .ok, message: "")
        default:
            throw Refusal(.operationUnsupported, "\(message.packetType) is not supported by this server")
        }
    }

    func resolve(_ raw: [UInt8]) throws -> VirtualPath {
        guard let path = VirtualPath.resolve(raw) else { throw Refusal(.noSuchFile, "no such file or directory") }
        return path
    }

    func register(_ handle: OpenHandle) throws -> [UInt8] {
        guard handles.count < Self.maximumHandles else {
            abandon(handle)
            throw Refusal(.failure, "too many open handles (limit \(Self.maximumHandles)); close some first")
        }
        let name = String(nextHandle)
        nextHandle += 1
        handles[name] = handle
        return Array(name.utf8)
    }

    func lookup(_ raw: [UInt8]) throws -> OpenHandle {
        guard let handle = handles[String(decoding: raw, as: UTF8.self)] else { throw Refusal(.failure, "invalid handle") }
        return handle
    }
}

/// A request refused with a status code and a message for the client.
struct Refusal: Error {
    let code: SFTPStatusCode
    let message: String

    init(_ code: SFTPStatusCode, _ message: String) {
        self.code = code
        self.message = message
    }
}
