import Foundation
import SealdropLayout
import SealdropSFTP
import SealdropSSH
import TestSupport

/// A drop box gone bad: a real libssh server (`SSHServer`) presenting the
/// pinned host key, with a scripted SFTP responder on the pure codec that
/// serves whatever a test puts in it — traversal names, forged attributes,
/// the wrong envelope, endless listings, huge files — or stalls.
final class MaliciousServer: @unchecked Sendable {
    /// What the responder does with one request.
    enum Action {
        case reply([SFTPMessage])
        /// Say nothing more until the test ends.
        case stall
    }

    /// Paths to file contents (`/directory/ca.pem`, `/inbox/ID.sealdrop`).
    var files: [String: [UInt8]] = [:]
    /// Paths to listings (`/inbox`, `/directory`).
    var listings: [String: [SFTPNameEntry]] = [:]
    /// Listings that never end: each READDIR answers another full batch.
    var endless: [String: (Int) -> SFTPNameEntry] = [:]
    /// STAT answers that differ from the file's own size.
    var stats: [String: SFTPAttributes] = [:]
    /// Echo the typed-attributes INIT extension in VERSION.
    var echoAttributes = false
    /// Stall instead of answering VERSION.
    var stallAtInit = false
    /// Stall on a READ of a file at or beyond this offset.
    var stallReadsFrom: UInt64?
    /// Stall (and stop reading) at the first WRITE of an upload.
    var stallOnUpload = false
    /// Answer every REMOVE with this failure message.
    var removeRefusal: String?
    /// Any other per-request override, tried first.
    var override: ((SFTPMessage) -> Action?)?

    /// Requests seen, for assertions (OPEN paths and REMOVE paths).
    private(set) var opened: [String] = []
    private(set) var written: [String: [UInt8]] = [:]

    let port: Int
    let hostKeyFingerprint: String
    private let server: SSHServer
    private let lock = NSLock()
    private var stopping = false

    init(hostKey: String) throws {
        server = try SSHServer(host: "127.0.0.1", port: 0, hostKeyPath: hostKey)
        port = server.port
        let listed = try Subprocess.run(Subprocess.which("ssh-keygen") ?? "/usr/bin/ssh-keygen", ["-lf", hostKey + ".pub"])
        hostKeyFingerprint = String(listed.output.split(separator: " ")[1])
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Ends the accept loop (by one last connection) and every stalled session.
    func stop() {
        lock.withLock { stopping = true }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
    }

    deinit {
        stop()
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func acceptLoop() {
        while !isStopping {
            guard let connection = try? server.accept() else { continue }
            if isStopping { return }
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    private func serve(_ connection: SSHServerConnection) {
        guard (try? connection.establish(timeout: 10, authorize: { _, _, _ in true })) != nil else { return }
        var framer = SFTPPacketFramer()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var directoryPositions: [String: Int] = [:]
        while !isStopping {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try connection.read(into: $0, timeout: 200) }
            } catch let error as SSHError where error.code == .timedOut {
                continue
            } catch {
                return
            }
            if count == 0 { return }
            framer.append(buffer[0..<count])
            while let message = try? framer.nextPacket() {
                switch respond(message, &directoryPositions) {
                case .reply(let replies):
                    for reply in replies { guard (try? connection.write(reply.encode())) != nil else { return } }
                case .stall:
                    while !isStopping { usleep(50_000) }
                    return
                }
            }
        }
    }

    private func respond(_ message: SFTPMessage, _ positions: inout [String: Int]) -> Action {
        if let hook = lock.withLock({ override }), let action = hook(message) { return action }
        return lock.withLock { () -> Action in
            switch message {
            case .initialize(_, let extensions):
                if stallAtInit { return .stall }
                let asked = extensions.first { $0.name == Array(DropBoxAttributes.initExtension.utf8) }
                return .reply([.version(version: 3, extensions: echoAttributes && asked != nil ? [asked!] : [])])
            case .open(let id, let raw, let flags, _):
                let path = String(decoding: raw, as: UTF8.self)
                opened.append(path)
                if flags.contains(.write) {
                    written[path] = []
                    return .reply([.handle(id: id, handle: Array(("w" + path).utf8))])
                }
                guard files[path] != nil else { return .reply([.status(id: id, code: .noSuchFile, message: "no such file")]) }
                return .reply([.handle(id: id, handle: Array(("f" + path).utf8))])
            case .read(let id, let handle, let offset, let length):
                let path = String(decoding: handle.dropFirst(), as: UTF8.self)
                if let stallReadsFrom, offset >= stallReadsFrom, path.hasPrefix("/inbox/") { return .stall }
                guard let bytes = files[path] else { return .reply([.status(id: id, code: .failure, message: "bad handle")]) }
                guard offset < UInt64(bytes.count) else { return .reply([.status(id: id, code: .eof, message: "")]) }
                let end = min(bytes.count, Int(offset) + Int(length))
                return .reply([.data(id: id, data: Array(bytes[Int(offset)..<end]))])
            case .write(let id, let handle, _, let data):
                if stallOnUpload, handle.starts(with: Array("w/outbox/".utf8)) { return .stall }
                written[String(decoding: handle.dropFirst(), as: UTF8.self), default: []] += data
                return .reply([.status(id: id, code: .ok, message: "")])
            case .close(let id, _):
                return .reply([.status(id: id, code: .ok, message: "")])
            case .stat(let id, let raw), .lstat(let id, let raw):
                let path = String(decoding: raw, as: UTF8.self)
                if let attributes = stats[path] { return .reply([.attributes(id: id, attributes: attributes)]) }
                guard let bytes = files[path] else { return .reply([.status(id: id, code: .noSuchFile, message: "no such file")]) }
                return .reply([.attributes(id: id, attributes: SFTPAttributes(size: UInt64(bytes.count)))])
            case .opendir(let id, let raw):
                let path = String(decoding: raw, as: UTF8.self)
                guard listings[path] != nil || endless[path] != nil else { return .reply([.status(id: id, code: .noSuchFile, message: "no such folder")]) }
                positions[path] = 0
                return .reply([.handle(id: id, handle: Array(("d" + path).utf8))])
            case .readdir(let id, let handle):
                let path = String(decoding: handle.dropFirst(), as: UTF8.self)
                let start = positions[path] ?? 0
                if let make = endless[path] {
                    positions[path] = start + 100
                    return .reply([.name(id: id, entries: (start..<(start + 100)).map(make))])
                }
                let entries = listings[path] ?? []
                guard start < entries.count else { return .reply([.status(id: id, code: .eof, message: "")]) }
                positions[path] = min(entries.count, start + 100)
                return .reply([.name(id: id, entries: Array(entries[start..<min(entries.count, start + 100)]))])
            case .remove(let id, _):
                if let removeRefusal { return .reply([.status(id: id, code: .failure, message: removeRefusal)]) }
                return .reply([.status(id: id, code: .ok, message: "")])
            default:
                return .reply([.status(id: message.requestID ?? 0, code: .operationUnsupported, message: "unsupported")])
            }
        }
    }

    /// A listing entry as today's server makes it: mode, owner column, size, name.
    static func entry(_ name: String, owner: String = "oldvendor", size: UInt64 = 1, extended: [(String, String)] = []) -> SFTPNameEntry {
        let attributes = SFTPAttributes(
            size: size, permissions: SFTPAttributes.regularFile | 0o400, accessTime: 1_700_000_000, modificationTime: 1_700_000_000,
            extended: extended.map { (type: Array($0.0.utf8), data: Array($0.1.utf8)) })
        let longName = "-r--------    1 \(owner) \(size) Nov 14 22:13 \(name)"
        return SFTPNameEntry(filename: Array(name.utf8), longname: Array(longName.utf8), attributes: attributes)
    }

    func setFile(_ path: String, _ bytes: [UInt8]) { lock.withLock { files[path] = bytes } }
    var openedPaths: [String] { lock.withLock { opened } }
}

/// A TCP listener that accepts and then says nothing (or only a banner):
/// a drop box stalled before or during the key exchange.
final class SilentListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32

    init(banner: String? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: address.sin_port))
        let listener = fd
        Thread.detachNewThread {
            // Accepted sockets stay open (and silent) until the process ends.
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                if let banner { _ = banner.withCString { write(client, $0, strlen($0)) } }
            }
        }
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
