import Foundation
import SealdropKeys
import SealdropLayout
import SealdropSFTP
import SealdropStore
import SealdropTrust

/// One vendor's SFTP session as decisions: a request in, the next action
/// out; an effect's outcome in, the next action out; until a reply or a
/// refusal ends the request. No I/O, no clock (times are passed in), no
/// store: what it reads comes through a `SessionView`, what it changes goes
/// out as a `SessionAction` for `SessionDriver`.
struct SessionRules {
    /// Open handles per session; OpenSSH's client uses a handful.
    static let maximumHandles = 64
    /// Uploads open at once in one session; OpenSSH's client uploads one file at a time.
    static let maximumUploadsPerSession = 4
    /// The most one READ returns: what OpenSSH's sftp-server serves (255
    /// KiB), since clients that ask for that much take less as end of file.
    static let maximumReadLength = SFTPLimits.maximumDataLength
    /// What `limits@openssh.com` announces: this server's real bounds.
    static let limits = SFTPServerLimits(
        maximumPacketLength: UInt64(SFTPLimits.maximumPacketLength), maximumReadLength: UInt64(maximumReadLength),
        maximumWriteLength: UInt64(SFTPLimits.maximumDataLength), maximumOpenHandles: UInt64(maximumHandles))
    /// Names of this session's own uploads remembered at most (`OwnUploads`).
    static let maximumRememberedUploads = 1024
    /// Disjoint served ranges one download may have: the store's bound
    /// (`ServedRanges.maximumRanges`), which this session never reaches by
    /// scattering (`checkScatter`), so the next session can still finish.
    static let maximumServedRanges = ServedRanges.maximumRanges
    /// A download's claim is renewed when a request that moves bytes
    /// arrives this long after its last renewal: well inside the store's
    /// lease (60 s by default), so a client that is busy with other
    /// transfers keeps its claim. Shorter leases renew more often
    /// (`renewalInterval(forLease:)`).
    static let claimRenewalInterval: TimeInterval = 15

    /// The renewal interval for a `claim-lease` of `lease`: a quarter of it,
    /// at most `claimRenewalInterval`, so a live client renews a short lease
    /// too (a 3 s lease every 0.75 s) instead of losing its handles between
    /// two renewals.
    static func renewalInterval(forLease lease: TimeInterval) -> TimeInterval {
        min(claimRenewalInterval, lease / 4)
    }

    /// True if `message`, answered with `replies`, moved bytes: a READ
    /// answered with data, or a WRITE of data accepted. Only these renew
    /// the claims of the session's other open downloads: a client sending
    /// zero-length READs, READs past the end or STATs keeps nothing alive,
    /// so an idle handle cannot hold a transfer (and its sender's revoke)
    /// off until expiry; its lease lapses as if the client were silent.
    static func movedBytes(_ message: SFTPMessage, _ replies: [SFTPMessage]) -> Bool {
        switch message {
        case .read:
            return replies.contains { if case .data(_, let data) = $0 { !data.isEmpty } else { false } }
        case .write(_, _, _, let data):
            return !data.isEmpty && replies.contains { if case .status(_, .ok, _) = $0 { true } else { false } }
        default:
            return false
        }
    }
    /// Entries per NAME reply: keeps each reply far below the packet limit.
    static let namesPerReply = 100

    let vendor: String
    /// The vendor's certified key: statements must be signed with it.
    let key: VendorPublicKey
    let startedAt: Date
    private(set) var handles: [[UInt8]: OpenHandle] = [:]
    private var nextHandle: UInt64 = 1
    private var initialized = false
    /// The client asked for the drop box's attributes (`DropBoxAttributes`) in its INIT.
    private(set) var attributesRequested = false
    /// The request waiting for an effect's outcome.
    private var pending: Pending?
    /// This session's own uploads by the name the client gave them: what
    /// STAT and RENAME may see of the write-only outbox (`SessionRules+Uploads`).
    var ownUploads: [OutboxName: OwnUpload] = [:]

    /// How long after its last renewal an open download's claim is renewed.
    let renewalInterval: TimeInterval

    init(vendor: String, key: VendorPublicKey, startedAt: Date, claimLease: TimeInterval = 60) {
        self.vendor = vendor
        self.key = key
        self.startedAt = startedAt
        renewalInterval = Self.renewalInterval(forLease: claimLease)
    }

    /// The first action for a request, or nil when it gets no answer (a packet without an id).
    mutating func receive(_ message: SFTPMessage, now: Date, view: some SessionView) -> SessionAction? {
        pending = nil
        if case .initialize(_, let extensions) = message { return .reply(initialize(extensions)) }
        guard let id = message.requestID else { return nil }
        guard initialized else {
            return .refuse(
                SessionRefusal(
                    id: id, code: .failure, message: "the session must start with SSH_FXP_INIT",
                    record: .init(kind: .badRequest, transferID: nil, reason: "a request before INIT")))
        }
        do {
            return try dispatch(message, id: id, now: now, view: view)
        } catch {
            return refusal(error, id: id, request: "\(message.packetType)")
        }
    }

    /// The next action once the driver performed the last one.
    mutating func resume(_ outcome: EffectOutcome, now: Date, view: some SessionView) -> SessionAction {
        guard let waiting = pending else {
            return .refuse(
                SessionRefusal(
                    id: 0, code: .failure, message: "the server could not complete the request",
                    record: .init(kind: .serverError, transferID: nil, reason: "an outcome with no request waiting")))
        }
        pending = nil
        do {
            return try proceed(waiting, outcome, now: now, view: view)
        } catch {
            return refusal(error, id: waiting.id, request: "request")
        }
    }

    /// Session over: every upload is discarded and every download finished
    /// without CLOSE: their served ranges do not count towards delivery.
    mutating func end() -> [SessionAction] {
        var actions = [SessionAction]()
        for (handle, open) in handles.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            switch open.content {
            case .upload: actions.append(.discardUpload(handle: handle))
            case .download(let progress):
                actions.append(.finishDownload(handle: handle, transferID: progress.transfer.id, closed: false))
            case .listing, .memoryFile, .statement: break
            }
        }
        handles = [:]
        ownUploads = [:]
        pending = nil
        return actions
    }

    /// Claims to renew now (`renewalInterval`), marked as renewed.
    /// READs renew their own claim when they record what they serve.
    mutating func dueRenewals(now: Date) -> [SessionAction] {
        var actions = [SessionAction]()
        for (handle, open) in handles {
            guard case .download(var progress) = open.content, now.timeIntervalSince(progress.renewedAt) >= renewalInterval else { continue }
            progress.renewedAt = now
            handles[handle] = OpenHandle(kind: open.kind, content: .download(progress))
            actions.append(.renewClaim(transferID: progress.transfer.id))
        }
        return actions
    }

    private mutating func initialize(_ extensions: [SFTPExtensionPair]) -> SFTPMessage {
        initialized = true
        let asked = SFTPExtensionPair(name: DropBoxAttributes.initExtension, data: DropBoxAttributes.initExtensionVersion)
        attributesRequested = extensions.contains(asked)
        let limits = SFTPExtensionPair(name: Array(SFTPServerLimits.name.utf8), data: Array(SFTPServerLimits.version.utf8))
        return .version(version: SFTPLimits.version, extensions: [limits] + (attributesRequested ? [asked] : []))
    }

    private mutating func dispatch(_ message: SFTPMessage, id: UInt32, now: Date, view: some SessionView) throws -> SessionAction {
        guard let operation = SFTPOperation(message) else {
            throw Refusal(.badMessage, "\(message.packetType) is not a request", .badRequest)
        }
        switch message {
        case .realpath(_, let raw):
            let path = try permitted(operation, raw)
            _ = try attributes(of: path, now: now, view: view)
            let name = Array(path.canonical.utf8)
            return .reply(.name(id: id, entries: [SFTPNameEntry(filename: name, longname: name, attributes: .empty)]))
        case .stat(_, let raw), .lstat(_, let raw):
            return .reply(.attributes(id: id, attributes: try attributes(of: try permitted(operation, raw), now: now, view: view)))
        case .opendir(_, let raw):
            let path = try permitted(operation, raw)
            let entries = try listing(of: path, now: now, view: view)
            return .reply(.handle(id: id, handle: try register(OpenHandle(kind: PathKind(path), content: .listing(entries, next: 0)))))
        case .open(_, let raw, _, _):
            return try open(try permitted(operation, raw), id: id, now: now, view: view)
        case .remove(_, let raw):
            guard case .sentFile(let transferID) = try permitted(operation, raw) else {
                throw Refusal(.permissionDenied, "only entries of /sent can be removed", .operationDenied)
            }
            pending = .revoke(id: id, transferID: transferID)
            return .revoke(transferID: transferID)
        case .setstat(_, let raw, _):
            _ = try permitted(operation, raw)
            return .reply(.status(id: id, code: .ok, message: ""))
        case .fstat(_, let raw):
            let (_, open) = try permitted(operation, handle: raw)
            return .reply(.attributes(id: id, attributes: fstat(open)))
        case .fsetstat(_, let raw, _):
            _ = try permitted(operation, handle: raw)
            return .reply(.status(id: id, code: .ok, message: ""))
        case .readdir(_, let raw):
            let (handle, open) = try permitted(operation, handle: raw)
            return readdir(handle, open, id: id)
        case .read(_, let raw, let offset, let length):
            let (handle, open) = try permitted(operation, handle: raw)
            return try read(handle, open, offset: offset, length: length, id: id, now: now)
        case .write(_, let raw, let offset, let data):
            let (handle, open) = try permitted(operation, handle: raw)
            return try write(handle, open, offset: offset, data: data, id: id, view: view)
        case .close(_, let raw):
            let (handle, open) = try permitted(operation, handle: raw)
            return try close(handle, open, id: id, now: now, view: view)
        case .rename(_, let from, let to):
            return try rename(try permitted(operation, from), to: to, id: id)
        case .mkdir(_, let raw, _), .rmdir(_, let raw), .readlink(_, let raw), .symlink(_, let raw, _):
            _ = try permitted(operation, raw)
            throw Refusal(.operationUnsupported, "\(message.packetType) is not supported by this server", .operationDenied)
        case .extended(_, let request, _):
            try check(operation, .outsideTree, shown: nil)
            guard request == Array(SFTPServerLimits.name.utf8) else {
                throw Refusal(
                    .operationUnsupported, "extension \(VendorName.printableName(String(decoding: request, as: UTF8.self))) is not supported by this server",
                    .operationDenied)
            }
            return .reply(.extendedReply(id: id, data: Self.limits.encoded))
        case .initialize, .version, .status, .handle, .data, .name, .attributes, .extendedReply:
            throw Refusal(.badMessage, "\(message.packetType) is not a request", .badRequest)
        }
    }

    /// The path, if the operation table allows `operation` on it.
    private func permitted(_ operation: SFTPOperation, _ raw: [UInt8]) throws -> VirtualPath {
        let path = VirtualPath.resolve(raw)
        try check(operation, PathKind(path), shown: path?.canonical)
        guard let path else { throw Refusal(.noSuchFile, "no such file or directory", .notFound) }
        return path
    }

    /// The handle, if it exists and the operation table allows `operation` where it was opened.
    private func permitted(_ operation: SFTPOperation, handle raw: [UInt8]) throws -> ([UInt8], OpenHandle) {
        guard raw.count <= SFTPLimits.maximumHandleLength, let open = handles[raw] else { throw Refusal(.failure, "invalid handle", .badRequest) }
        try check(operation, open.kind, shown: nil)
        return (raw, open)
    }

    private func check(_ operation: SFTPOperation, _ kind: PathKind, shown: String?) throws {
        let place = shown ?? "this handle"
        switch SFTPOperationTable.rule(for: operation, on: kind) {
        case .allowed: return
        case .hidden: throw Refusal(.noSuchFile, "no such file or directory", .notFound)
        case .denied:
            let why = Self.shaping.contains(operation) ? "the drop box tree is fixed" : "\(place) does not allow it"
            throw Refusal(.permissionDenied, "\(operation.rawValue) refused: \(why)", .operationDenied)
        case .unsupported: throw Refusal(.operationUnsupported, "\(operation.rawValue) is not supported by this server", .operationDenied)
        }
    }

    private static let shaping: Set<SFTPOperation> = [.mkdir, .rmdir, .rename, .symlink]

    mutating func register(_ open: OpenHandle) throws -> [UInt8] {
        let name = try reserveHandle()
        handles[name] = open
        return name
    }

    /// A fresh handle name, if the session may open one more.
    mutating func reserveHandle() throws -> [UInt8] {
        guard handles.count < Self.maximumHandles else {
            throw Refusal(.failure, "too many open handles (limit \(Self.maximumHandles)); close some first", .limitReached)
        }
        let name = Array(String(nextHandle).utf8)
        nextHandle &+= 1
        return name
    }

    mutating func setHandle(_ name: [UInt8], _ open: OpenHandle?) {
        handles[name] = open
    }

    mutating func wait(_ next: Pending) {
        pending = next
    }

    private func refusal(_ error: any Error, id: UInt32, request: String) -> SessionAction {
        if let refusal = error as? Refusal {
            return .refuse(
                SessionRefusal(
                    id: id, code: refusal.code, message: refusal.message,
                    record: RefusalRecord(
                        kind: refusal.kind, transferID: refusal.transferID, reason: refusal.recordedReason ?? refusal.message, size: refusal.size)))
        }
        return .refuse(
            SessionRefusal(
                id: id, code: .failure, message: "the server could not complete the request",
                record: RefusalRecord(kind: .serverError, transferID: nil, reason: "\(request) failed: \(error)", size: nil)))
    }
}

extension Refusal {
    /// "No such file" for a transfer id: recorded only when the transfer
    /// exists and belongs to others (`existing` not nil).
    static func absent(_ id: String, existing: Transfer?, _ message: String = "no such file or directory") -> Refusal {
        Refusal(.noSuchFile, message, existing == nil ? .notFound : .notYours, transferID: id)
    }
}

/// A request refused while deciding: the status for the client and what to record.
struct Refusal: Error {
    let code: SFTPStatusCode
    let message: String
    let kind: RefusalRecord.Kind
    var transferID: String?
    var size: UInt64?
    /// What the log gets when it differs from the client's message (a server failure's cause).
    var recordedReason: String?

    init(_ code: SFTPStatusCode, _ message: String, _ kind: RefusalRecord.Kind, transferID: String? = nil, size: UInt64? = nil) {
        self.code = code
        self.message = message
        self.kind = kind
        self.transferID = transferID
        self.size = size
    }
}
