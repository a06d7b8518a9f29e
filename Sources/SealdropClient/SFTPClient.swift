import SealdropSFTP

/// An SFTP v3 client over any byte stream (a libssh channel in practice),
/// written on the pure codec so that uploads and downloads can keep many
/// requests in flight: libssh's own sftp_write waits for every reply.
public final class SFTPClient {
    public typealias Receive = (UnsafeMutableRawBufferPointer) throws -> Int
    public typealias Send = ([UInt8]) throws -> Void

    /// Requests in flight during a transfer: 32 × 64 KiB = 2 MiB, within
    /// the SSH channel window, enough to hide a 10 ms round trip at ~200 MB/s.
    public static let pipelineDepth = 32
    /// Bytes per WRITE or READ: well under the server's 256 KiB packet limit.
    public static let blockSize = 64 * 1024

    private let receive: Receive
    private let send: Send
    private var framer = SFTPPacketFramer()
    private var nextID: UInt32 = 1
    private var buffer = [UInt8](repeating: 0, count: 256 * 1024)

    public init(receive: @escaping Receive, send: @escaping Send) throws {
        self.receive = receive
        self.send = send
        try send(SFTPMessage.initialize(version: SFTPLimits.version, extensions: []).encode())
        guard case .version(let version, _) = try nextMessage(), version == SFTPLimits.version else {
            throw SFTPClientError("the server does not speak SFTP version 3")
        }
    }

    /// Sends a request and waits for its reply.
    public func request(_ make: (UInt32) -> SFTPMessage) throws -> SFTPMessage {
        let id = takeID()
        try send(make(id).encode())
        let reply = try nextMessage()
        guard reply.requestID == id else { throw SFTPClientError("the server answered request \(String(describing: reply.requestID)), not \(id)") }
        return reply
    }

    /// Sends without waiting; pair with `nextMessage()`.
    public func post(_ make: (UInt32) -> SFTPMessage) throws -> UInt32 {
        let id = takeID()
        try send(make(id).encode())
        return id
    }

    public func nextMessage() throws -> SFTPMessage {
        while true {
            if let message = try framer.nextPacket() { return message }
            let count = try buffer.withUnsafeMutableBytes { try receive($0) }
            guard count > 0 else { throw SFTPClientError("the server closed the connection") }
            framer.append(buffer[0..<count])
        }
    }

    private func takeID() -> UInt32 {
        defer { nextID &+= 1 }
        return nextID
    }

    // MARK: - Operations

    public func open(_ path: String, flags: SFTPOpenFlags) throws -> [UInt8] {
        switch try request({ .open(id: $0, path: Array(path.utf8), flags: flags, attributes: .empty) }) {
        case .handle(_, let handle): return handle
        case .status(_, _, let message): throw SFTPClientError(message.isEmpty ? "cannot open \(path)" : message)
        default: throw SFTPClientError("unexpected reply to OPEN")
        }
    }

    /// Closes a handle; the server's message (e.g. "published transfer ID") is returned.
    @discardableResult
    public func close(_ handle: [UInt8]) throws -> String {
        guard case .status(_, let code, let message) = try request({ .close(id: $0, handle: handle) }) else {
            throw SFTPClientError("unexpected reply to CLOSE")
        }
        guard code == .ok else { throw SFTPClientError(message.isEmpty ? "the server refused to close the file (\(code))" : message) }
        return message
    }

    public func stat(_ path: String) throws -> SFTPAttributes {
        switch try request({ .stat(id: $0, path: Array(path.utf8)) }) {
        case .attributes(_, let attributes): return attributes
        case .status(_, _, let message): throw SFTPClientError(message)
        default: throw SFTPClientError("unexpected reply to STAT")
        }
    }

    public func list(_ path: String) throws -> [SFTPNameEntry] {
        guard case .handle(_, let handle) = try request({ .opendir(id: $0, path: Array(path.utf8)) }) else {
            throw SFTPClientError("cannot list \(path)")
        }
        defer { _ = try? close(handle) }
        var entries = [SFTPNameEntry]()
        while true {
            switch try request({ .readdir(id: $0, handle: handle) }) {
            case .name(_, let batch): entries += batch
            case .status(_, .eof, _): return entries.filter { $0.filename != Array(".".utf8) && $0.filename != Array("..".utf8) }
            case .status(_, _, let message): throw SFTPClientError(message)
            default: throw SFTPClientError("unexpected reply to READDIR")
            }
        }
    }

    /// A small file read whole, until EOF; more than `maximumSize` bytes is
    /// refused rather than buffered (the server decides what it sends).
    public func readFile(_ path: String, maximumSize: Int) throws -> [UInt8] {
        let handle = try open(path, flags: .read)
        var bytes = [UInt8]()
        while case .data(_, let data) = try request({ .read(id: $0, handle: handle, offset: UInt64(bytes.count), length: UInt32(Self.blockSize)) }) {
            guard !data.isEmpty, bytes.count + data.count <= maximumSize else {
                _ = try? close(handle)
                throw SFTPClientError(data.isEmpty ? "the server sent an empty block of \(path)" : "\(path) is larger than \(maximumSize) bytes")
            }
            bytes += data
        }
        try close(handle)
        return bytes
    }

    public func remove(_ path: String) throws {
        guard case .status(_, let code, let message) = try request({ .remove(id: $0, path: Array(path.utf8)) }) else {
            throw SFTPClientError("unexpected reply to REMOVE")
        }
        guard code == .ok else { throw SFTPClientError(message.isEmpty ? "cannot remove \(path) (\(code))" : message) }
    }
}

/// The server refused or broke the protocol; the message is the server's when it gave one.
public struct SFTPClientError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
