import Foundation
import SealdropSFTP
import TestSupport

/// OpenSSH's `ssh -s sftp` as the transport and our own SFTP codec on top,
/// so a test can stop between any two requests (read every byte, then not
/// CLOSE) — what `sftp -b` cannot do.
final class RawSFTPClient {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var framer = SFTPPacketFramer()
    private var nextID: UInt32 = 1

    convenience init(_ server: ServerFixture, user: String) throws {
        try self.init(
            Subprocess.which("ssh") ?? "/usr/bin/ssh", server.sshOptions(user, portFlag: "-p") + ["-s", "\(user)@127.0.0.1", "sftp"],
            directory: server.directory.path)
    }

    /// Any program that speaks SFTP on its standard input and output
    /// (`sealdropd sftp-subsystem`).
    init(_ executable: String, _ arguments: [String], directory: String) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard case .version = try exchange(.initialize(version: 3, extensions: [])) else { throw FixtureError.setup("no SFTP version reply") }
    }

    deinit {
        kill()
    }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends one request and waits for its reply.
    func exchange(_ message: SFTPMessage) throws -> SFTPMessage {
        input.fileHandleForWriting.write(Data(message.encode()))
        while true {
            if let reply = try framer.nextPacket() { return reply }
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw FixtureError.setup("the connection closed") }
            framer.append([UInt8](chunk))
        }
    }

    /// Sends requests from a background thread and never reads a reply: a
    /// client that stops reading. Ignores SIGPIPE, so a server that hangs
    /// up mid-write cannot kill the test runner.
    func sendWithoutReading(_ messages: [SFTPMessage]) {
        signal(SIGPIPE, SIG_IGN)
        let bytes = Data(messages.flatMap { $0.encode() })
        let handle = input.fileHandleForWriting
        Thread.detachNewThread { try? handle.write(contentsOf: bytes) }
    }

    func id() -> UInt32 {
        defer { nextID += 1 }
        return nextID
    }

    func openForReading(_ path: String) throws -> [UInt8] {
        let reply = try exchange(.open(id: id(), path: Array(path.utf8), flags: .read, attributes: .empty))
        guard case .handle(_, let handle) = reply else { throw FixtureError.setup("open \(path): \(reply)") }
        return handle
    }

    /// Reads from `offset` up to `limit` bytes (or the end), in 32 KiB requests.
    func read(_ handle: [UInt8], from offset: Int = 0, limit: Int = .max) throws -> [UInt8] {
        var bytes = [UInt8]()
        while bytes.count < limit {
            let length = UInt32(min(32 * 1024, limit - bytes.count))
            switch try exchange(.read(id: id(), handle: handle, offset: UInt64(offset + bytes.count), length: length)) {
            case .data(_, let data): bytes += data
            case .status(_, .eof, _): return bytes
            case let other: throw FixtureError.setup("read: \(other)")
            }
        }
        return bytes
    }
}
