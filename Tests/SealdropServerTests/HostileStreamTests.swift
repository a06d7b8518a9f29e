import Foundation
import SealdropFormat
import SealdropSFTP
import Testing
import TestSupport

/// Byte streams no SFTP client sends, fed to the real `sealdropd
/// sftp-subsystem` on its standard input: each must end the session in an
/// orderly way (exit 0, replies well formed), never trap, and leave the
/// drop box usable for the next session.
@Suite struct HostileStreamTests {
    static func packet(_ body: [UInt8]) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: body.count + 4)
        writer.writeUInt32(UInt32(body.count))
        writer.write(body)
        return writer.bytes
    }

    static let initialize = SFTPMessage.initialize(version: 3, extensions: []).encode()

    /// Streams named for the report: each is the whole of a session's input.
    static let streams: [(String, [UInt8])] = {
        var random = SystemRandomNumberGenerator()
        let noise = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }
        let request = SFTPMessage.stat(id: 7, path: Array("/".utf8)).encode()
        return [
            ("random bytes", noise),
            ("random bytes after INIT", initialize + noise),
            ("a zero-length packet", initialize + packet([])),
            ("a packet declaring 2^32-1 bytes", initialize + [0xff, 0xff, 0xff, 0xff, 3]),
            ("a packet declaring 256 KiB that never comes", initialize + [0, 4, 0, 0, 3, 0, 0]),
            ("a request before INIT, then INIT twice", request + initialize + initialize + request),
            ("unknown types with and without an id", initialize + packet([0]) + packet([99, 0, 0, 0, 1]) + packet([255]) + request),
            ("every request type cut short", initialize + SFTPMessage.PacketType.allCases.flatMap { packet([$0.rawValue, 0, 0]) } + request),
            (
                "huge strings declared inside small packets",
                initialize + [3, 4, 17, 200].flatMap { packet([$0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0x41]) } + request
            ),
            ("replies sent as requests", initialize + SFTPMessage.status(id: 1, code: .ok, message: "").encode() + packet([102, 0, 0, 0, 2]) + request),
            ("an EXTENDED request with a 64 KiB name", initialize + packet([200, 0, 0, 0, 3, 0, 1, 0, 0] + [UInt8](repeating: 0x61, count: 65_536)) + request),
            ("INIT with a thousand extensions", packet([1, 0, 0, 0, 3] + (0..<1000).flatMap { _ in [0, 0, 0, 1, 0x61, 0, 0, 0, 0] }) + request),
            (
                "paths with NUL and invalid UTF-8",
                initialize + [[0x2f, 0], [0x2f, 0xff, 0xfe], [0x2f, 0xc0, 0xaf]].flatMap { SFTPMessage.stat(id: 8, path: $0).encode() }
            ),
        ]
    }()

    @Test func hostileStreamsEndTheSessionCleanly() throws {
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        let arguments = ["sftp-subsystem", "--vendor", "oldvendor", "--data", directory.file("data"), "--trust", directory.file("ca/trust")]
        for (name, stream) in Self.streams {
            // From a file, not a pipe: the server may stop reading early, and
            // a test writing into a closed pipe would die of SIGPIPE.
            let input = try directory.write(stream, to: "stream")
            let result = try Subprocess.run(Fixtures.sealdropd, arguments, inputFile: input, directory: directory.path)
            #expect(result.status == 0, "\(name): exit \(result.status): \(result.standardError)")
            // Whatever was answered is a sequence of well-formed replies.
            var framer = SFTPPacketFramer()
            framer.append(result.standardOutput)
            var replies = [SFTPMessage]()
            do {
                while let reply = try framer.nextPacket() { replies.append(reply) }
            } catch {
                Issue.record("\(name): a malformed reply: \(error)")
            }
            #expect(framer.bufferedCount == 0, "\(name): a reply cut short")
            #expect(replies.allSatisfy { !$0.packetType.isRequest }, "\(name)")
        }
        // The store is intact: a normal session still works.
        let client = try RawSFTPClient(Fixtures.sealdropd, arguments, directory: directory.path)
        guard case .name = try client.exchange(.realpath(id: client.id(), path: Array(".".utf8))) else {
            Issue.record("the drop box no longer answers")
            return
        }
    }
}
