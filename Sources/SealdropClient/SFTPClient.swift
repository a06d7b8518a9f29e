import SealdropSFTP

/// An SFTP v3 client over any byte stream (a libssh channel in practice),
/// written on the pure codec so that uploads and downloads can keep many
/// requests in flight: libssh's own sftp_write waits for every reply.
///
/// Every reply is checked before use: its request id, its type, and the
/// limits below; a server's message is sanitised and cut before it becomes
/// part of an error. Nothing the server says is trusted.
public final class SFTPClient {
    public typealias Receive = (UnsafeMutableRawBufferPointer) throws -> Int
    public typealias Send = ([UInt8]) throws -> Void

    /// Requests in flight for small files and listings.
    public static let pipelineDepth = 32
    /// Bytes per READ of a small file, and the most a signed statement
    /// (one WRITE) may hold.
    public static let blockSize = 64 * 1024
    /// Bytes per WRITE or READ of a transfer's envelope: the drop box's own
    /// limit (255 KiB, what OpenSSH's sftp-server serves and it announces in
    /// `limits@openssh.com`). The drop box commits every READ it serves to
    /// its store before the bytes leave; a quarter as many READs as with
    /// 64 KiB blocks is a quarter as many commits and SFTP round trips.
    public static let transferBlockSize = SFTPLimits.maximumDataLength
    /// Transfer requests in flight: 8 × 255 KiB ≈ 2 MiB, within the SSH
    /// channel window, enough to hide a 10 ms round trip at ~200 MB/s.
    public static let transferPipelineDepth = 8
    /// Entries in one listing: a vendor's inbox holds at most its pending
    /// transfers (the server caps those far lower); more is a server lying.
    public static let maximumListingEntries = 10_000
    /// Bytes of names, long names and attributes in one listing: a real
    /// entry is about 150 bytes, so this is five times what 10,000 need,
    /// and what a lying server can make the client hold.
    public static let maximumListingBytes = 8 << 20
    /// Pieces one READ block may arrive in: a server may answer short
    /// (SFTP allows it), and each short answer costs a round trip, so a
    /// block in more than 16 pieces (under 16 KiB each, on average, for a
    /// transfer's block) is a server dribbling to hold the client, and is
    /// refused.
    public static let maximumPiecesPerBlock = 16
    /// Extensions kept from VERSION; the drop box sends one.
    static let maximumExtensions = 16

    private let receive: Receive
    private let send: Send
    private var framer = SFTPPacketFramer()
    private var nextID: UInt32 = 1
    private var buffer = [UInt8](repeating: 0, count: 256 * 1024)
    /// When set, `readFile` and `list` give up on a file or listing that
    /// advances by less than a block within this many seconds (`ProgressFloor`).
    public var minimumProgressSeconds: Double?
    /// The extensions the server announced in VERSION, by name (bounded).
    public private(set) var serverExtensions: [String: [UInt8]] = [:]

    /// Sends INIT with `extensions` and checks the VERSION answer.
    public init(receive: @escaping Receive, send: @escaping Send, extensions: [(name: String, data: String)] = []) throws {
        self.receive = receive
        self.send = send
        let pairs = extensions.map { SFTPExtensionPair(name: Array($0.name.utf8), data: Array($0.data.utf8)) }
        try send(SFTPMessage.initialize(version: SFTPLimits.version, extensions: pairs).encode())
        guard case .version(let version, let announced) = try nextMessage() else {
            throw DropBoxError(.protocolViolation, "the drop box did not answer INIT with VERSION")
        }
        guard version == SFTPLimits.version else { throw DropBoxError(.protocolViolation, "the drop box does not speak SFTP version 3 (it said \(version))") }
        guard announced.count <= Self.maximumExtensions else {
            throw DropBoxError(.tooLarge, "the drop box announced \(announced.count) extensions, more than \(Self.maximumExtensions)")
        }
        for pair in announced {
            serverExtensions[String(decoding: pair.name, as: UTF8.self)] = pair.data
        }
    }

    /// Sends a request and waits for its reply.
    public func request(_ make: (UInt32) -> SFTPMessage) throws -> SFTPMessage {
        let id = takeID()
        try send(make(id).encode())
        let reply = try nextMessage()
        guard reply.requestID == id else {
            throw DropBoxError(.protocolViolation, "the drop box answered request \(reply.requestID.map(String.init) ?? "none"), not \(id)")
        }
        return reply
    }

    /// Sends without waiting; pair with `nextMessage()`.
    public func post(_ make: (UInt32) -> SFTPMessage) throws -> UInt32 {
        let id = takeID()
        try send(make(id).encode())
        return id
    }

    /// Sends a packet the caller encoded for the request id it is given,
    /// without waiting (a WRITE built around data already in place); pair
    /// with `nextMessage()`.
    public func post(encoded packet: (UInt32) throws -> [UInt8]) throws -> UInt32 {
        let id = takeID()
        try send(try packet(id))
        return id
    }

    /// The next packet; a length over the codec's limit or a malformed
    /// packet ends the session with an error rather than a guess.
    public func nextMessage() throws -> SFTPMessage {
        while true {
            do {
                if let message = try framer.nextPacket() { return message }
            } catch {
                throw DropBoxError(.protocolViolation, "the drop box sent a malformed packet: \(error.message)")
            }
            let count = try buffer.withUnsafeMutableBytes { try receive($0) }
            guard count > 0 else { throw DropBoxError(.refused, "the drop box closed the connection") }
            framer.append(buffer[0..<count])
        }
    }

    private func takeID() -> UInt32 {
        defer { nextID &+= 1 }
        return nextID
    }

    /// The error for a refusal: the server's own message, made safe, or `fallback`.
    static func refusal(_ code: SFTPStatusCode, _ message: String, _ fallback: String) -> DropBoxError {
        let said = message.isEmpty ? fallback : "the drop box said: \(UntrustedText.fromServer(message))"
        return DropBoxError(code == .noSuchFile ? .notFound : .refused, said)
    }

    static func unexpected(_ reply: SFTPMessage, to request: String) -> DropBoxError {
        DropBoxError(.protocolViolation, "the drop box answered \(request) with an unexpected \(reply.packetType) packet")
    }

    // MARK: - Operations

    public func open(_ path: String, flags: SFTPOpenFlags) throws -> [UInt8] {
        switch try request({ .open(id: $0, path: Array(path.utf8), flags: flags, attributes: .empty) }) {
        case .handle(_, let handle): return handle
        case .status(_, let code, let message): throw Self.refusal(code, message, "the drop box cannot open \(path) (\(code))")
        case let other: throw Self.unexpected(other, to: "OPEN")
        }
    }

    /// Closes a handle; the server's message (e.g. "published transfer ID") is returned, sanitised.
    @discardableResult
    public func close(_ handle: [UInt8]) throws -> String {
        switch try request({ .close(id: $0, handle: handle) }) {
        case .status(_, .ok, let message): return UntrustedText.fromServer(message)
        case .status(_, let code, let message): throw Self.refusal(code, message, "the drop box refused to close the file (\(code))")
        case let other: throw Self.unexpected(other, to: "CLOSE")
        }
    }

    public func stat(_ path: String) throws -> SFTPAttributes {
        switch try request({ .stat(id: $0, path: Array(path.utf8)) }) {
        case .attributes(_, let attributes): return attributes
        case .status(_, let code, let message): throw Self.refusal(code, message, "the drop box has no \(path) (\(code))")
        case let other: throw Self.unexpected(other, to: "STAT")
        }
    }

    /// A directory's entries except `.` and `..`, within
    /// `maximumEntries` and `maximumBytes`: an endless or bloated listing
    /// is refused once it passes them, never buffered whole.
    public func list(_ path: String, maximumEntries: Int = maximumListingEntries, maximumBytes: Int = maximumListingBytes) throws
        -> [SFTPNameEntry]
    {
        let handle: [UInt8]
        switch try request({ .opendir(id: $0, path: Array(path.utf8)) }) {
        case .handle(_, let opened): handle = opened
        case .status(_, let code, let message): throw Self.refusal(code, message, "the drop box cannot list \(path) (\(code))")
        case let other: throw Self.unexpected(other, to: "OPENDIR")
        }
        defer { _ = try? close(handle) }
        var entries = [SFTPNameEntry]()
        var bytes = 0
        var floor = minimumProgressSeconds.map { ProgressFloor(bytes: UInt64(Self.blockSize), seconds: $0, from: 0) }
        while true {
            // Names a few at a time, each just inside the timeout, would make 10,000 take hours.
            try floor?.check(UInt64(bytes), of: "the listing of \(path)")
            switch try request({ .readdir(id: $0, handle: handle) }) {
            case .name(_, let batch):
                guard !batch.isEmpty else { throw DropBoxError(.protocolViolation, "the drop box sent an empty batch of names for \(path)") }
                for entry in batch where entry.filename != Array(".".utf8) && entry.filename != Array("..".utf8) {
                    bytes += entry.filename.count + entry.longname.count + entry.attributes.extended.reduce(0) { $0 + $1.type.count + $1.data.count }
                    entries.append(entry)
                    guard entries.count <= maximumEntries, bytes <= maximumBytes else {
                        throw DropBoxError(
                            .tooLarge,
                            "the drop box's listing of \(path) passed \(entries.count > maximumEntries ? "\(maximumEntries) entries" : "\(maximumBytes) bytes"); it was refused"
                        )
                    }
                }
            case .status(_, .eof, _): return entries
            case .status(_, let code, let message): throw Self.refusal(code, message, "the drop box stopped listing \(path) (\(code))")
            case let other: throw Self.unexpected(other, to: "READDIR")
            }
        }
    }

    /// A small file read whole, until EOF; more than `maximumSize` bytes is
    /// refused rather than buffered (the server decides what it sends), and
    /// so is a block of `blockSize` bytes sent in more than
    /// `maximumPiecesPerBlock` answers (a server dribbling to hold us).
    public func readFile(_ path: String, maximumSize: Int) throws -> [UInt8] {
        let handle = try open(path, flags: .read)
        var bytes = [UInt8]()
        var block = 0
        var pieces = 0
        var floor = minimumProgressSeconds.map { ProgressFloor(bytes: UInt64(Self.blockSize), seconds: $0, from: 0) }
        while true {
            try floor?.check(UInt64(bytes.count), of: path)
            if bytes.count / Self.blockSize != block {
                block = bytes.count / Self.blockSize
                pieces = 0
            }
            pieces += 1
            guard pieces <= Self.maximumPiecesPerBlock else {
                _ = try? close(handle)
                throw DropBoxError(
                    .protocolViolation,
                    "the drop box sent \(path) in pieces of a few bytes (more than \(Self.maximumPiecesPerBlock) for one block); it was refused")
            }
            switch try request({ .read(id: $0, handle: handle, offset: UInt64(bytes.count), length: UInt32(Self.blockSize)) }) {
            case .data(_, let data):
                guard !data.isEmpty, data.count <= Self.blockSize, bytes.count + data.count <= maximumSize else {
                    _ = try? close(handle)
                    throw data.isEmpty
                        ? DropBoxError(.protocolViolation, "the drop box sent an empty block of \(path)")
                        : DropBoxError(.tooLarge, "the drop box's \(path) is larger than \(maximumSize) bytes; it was refused")
                }
                bytes += data
            case .status(_, .eof, _):
                try close(handle)
                return bytes
            case .status(_, let code, let message):
                _ = try? close(handle)
                throw Self.refusal(code, message, "the drop box stopped sending \(path) (\(code))")
            case let other:
                throw Self.unexpected(other, to: "READ")
            }
        }
    }

    /// Writes a small file in one request (a signed statement, a few KiB).
    public func writeFile(_ path: String, _ body: [UInt8]) throws -> String {
        guard body.count <= Self.blockSize else {
            throw DropBoxError(.localState, "\(path) would be \(body.count) bytes; a signed statement must fit \(Self.blockSize); nothing was uploaded")
        }
        let handle = try open(path, flags: [.write, .create, .truncate])
        switch try request({ .write(id: $0, handle: handle, offset: 0, data: body) }) {
        case .status(_, .ok, _): break
        case .status(_, let code, let message):
            _ = try? close(handle)
            throw Self.refusal(code, message, "the drop box refused \(path) (\(code))")
        case let other: throw Self.unexpected(other, to: "WRITE")
        }
        return try close(handle)
    }

    public func remove(_ path: String) throws {
        switch try request({ .remove(id: $0, path: Array(path.utf8)) }) {
        case .status(_, .ok, _): return
        case .status(_, let code, let message): throw Self.refusal(code, message, "the drop box cannot remove \(path) (\(code))")
        case let other: throw Self.unexpected(other, to: "REMOVE")
        }
    }
}
