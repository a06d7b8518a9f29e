import Foundation
import SealdropLog
import SealdropStore
import Testing
import TestSupport

/// A client that sends its last requests, an SSH DISCONNECT and its FIN in
/// one TCP segment, as lftp does when it ends a download (it queues the
/// CLOSE and hangs up without waiting for any reply). libssh then refuses
/// to hand over the requests it received just before the DISCONNECT; the
/// server still handles every one of them, in order.
@Suite(.serialized) struct CloseThenDisconnectTests {
    /// Reads a file over raw SFTP on paramiko's transport, then sends the
    /// last requests and the DISCONNECT together: the socket is corked so
    /// that they, and the FIN, leave in one segment.
    ///
    /// Arguments: port user key path size output pastEnd held. The first
    /// `size - held` bytes are read one request at a time and written to
    /// `output`; the last burst asks for the `held` remaining bytes (when
    /// not 0), then reads `pastEnd` times past the end, then CLOSEs.
    static let script = """
        import socket, struct, sys, paramiko
        from paramiko.common import cMSG_DISCONNECT
        from paramiko.message import Message
        port, user, key, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        size, output, past_end, held = int(sys.argv[5]), sys.argv[6], int(sys.argv[7]), int(sys.argv[8])
        sock = socket.create_connection(("127.0.0.1", port))
        transport = paramiko.Transport(sock)
        transport.start_client(timeout=30)
        transport.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key))
        channel = transport.open_session(timeout=30)
        channel.invoke_subsystem("sftp")
        pending = b""
        def packet(kind, body):
            return struct.pack(">IB", len(body) + 1, kind) + body
        def string(value):
            return struct.pack(">I", len(value)) + value
        def receive():
            global pending
            while True:
                if len(pending) >= 4:
                    length = struct.unpack(">I", pending[:4])[0]
                    if len(pending) >= 4 + length:
                        body, pending = pending[4:4 + length], pending[4 + length:]
                        return body[0], body[1:]
                chunk = channel.recv(65536)
                if not chunk:
                    sys.exit("the server closed the channel")
                pending += chunk
        def read(request, handle, offset, length):
            return packet(5, struct.pack(">I", request) + string(handle) + struct.pack(">QI", offset, length))
        channel.sendall(packet(1, struct.pack(">I", 3)))
        assert receive()[0] == 2
        channel.sendall(packet(3, struct.pack(">I", 1) + string(path.encode()) + struct.pack(">II", 1, 0)))
        kind, body = receive()
        assert kind == 102, kind
        handle = body[8:8 + struct.unpack(">I", body[4:8])[0]]
        data, request = b"", 2
        while len(data) < size - held:
            channel.sendall(read(request, handle, len(data), min(32768, size - held - len(data))))
            kind, body = receive()
            assert kind == 103, kind
            data += body[8:]
            request += 1
        open(output, "wb").write(data)
        last = b""
        if held:
            last += read(request, handle, len(data), held)
            request += 1
        for _ in range(past_end):
            last += read(request, handle, size, 32768)
            request += 1
        last += packet(4, struct.pack(">I", request) + string(handle))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        channel.sendall(last)
        disconnect = Message()
        disconnect.add_byte(cMSG_DISCONNECT)
        disconnect.add_int(11)
        disconnect.add_string("disconnected by user")
        disconnect.add_string("")
        transport._send_message(disconnect)
        transport.close()
        """

    struct Sent {
        let server: ServerFixture
        let id: String
        let envelope: [UInt8]
    }

    func sendOne() throws -> Sent {
        let server = try ServerFixture()
        let name = try server.seal(Fixtures.bytes(300_000, seed: 41), name: "burst")
        #expect(try server.sftp("oldvendor", ["put \(name) /outbox/newvendor/"]).status == 0)
        let listing = try server.sftp("oldvendor", ["ls -1 /sent"]).output
        let file = try #require(listing.split(separator: "\n").compactMap { $0.split(separator: "/").last }.first { $0.hasSuffix(".sealdrop") })
        return Sent(server: server, id: String(file.dropLast(".sealdrop".count)), envelope: try server.directory.read(name))
    }

    /// Runs the script against `sent`; returns the bytes it read.
    func readThenHangUp(_ sent: Sent, pastEnd: Int, held: Int) throws -> [UInt8] {
        let python = try #require(PythonVenv.paramiko(), "paramiko could not be installed into \(PythonVenv.path)")
        let script = try sent.server.directory.write(Array(Self.script.utf8), to: "hang_up.py")
        let run = try Subprocess.run(
            python,
            [
                script, String(sent.server.port), "newvendor", sent.server.directory.file("newvendor"), "/inbox/\(sent.id).sealdrop",
                String(sent.envelope.count), "burst-received", String(pastEnd), String(held),
            ],
            directory: sent.server.directory.path)
        try #require(run.status == 0, "\(run.standardError)")
        return try sent.server.directory.read("burst-received")
    }

    /// The transfer's events once the session's end is recorded (10 s at
    /// most): delivered, or its claim released.
    func settled(_ sent: Sent) throws -> [TransferEvent.Kind] {
        let store = try SQLiteTransferStore(path: sent.server.data + "/metadata.sqlite")
        var kinds: [TransferEvent.Kind] = []
        for _ in 0..<100 {
            kinds = try store.events().filter { $0.transferID == sent.id }.map(\.kind)
            if kinds.contains(.delivered) || kinds.contains(.released) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return kinds
    }

    /// The whole file read, then CLOSE (after reads past the end, as lftp's
    /// read-ahead leaves them, whose replies can no longer be sent) and the
    /// DISCONNECT together: delivered at that CLOSE, once.
    @Test(arguments: [0, 20])
    func aCloseSentWithTheDisconnectDeliversTheTransfer(_ pastEnd: Int) throws {
        let sent = try sendOne()
        #expect(try readThenHangUp(sent, pastEnd: pastEnd, held: 0) == sent.envelope)
        let kinds = try settled(sent)
        #expect(kinds.contains(.delivered), "\(kinds)")
        #expect(!kinds.contains(.released), "\(kinds)")
        #expect(sent.server.entries("blobs").isEmpty, "deleted at delivery")
        let again = try sent.server.sftp("newvendor", ["get /inbox/\(sent.id).sealdrop again.sealdrop"])
        #expect(again.status != 0, "a second download is refused")
    }

    /// The last bytes asked for in the same burst as the CLOSE: their reply
    /// cannot be sent, so the client never had them and the CLOSE after
    /// them counts nothing. The transfer stays the recipient's, whole.
    @Test func bytesThatCouldNotBeSentAreNotDelivered() throws {
        let sent = try sendOne()
        let held = 1000
        #expect(try readThenHangUp(sent, pastEnd: 0, held: held) == Array(sent.envelope.dropLast(held)))
        let kinds = try settled(sent)
        #expect(kinds.contains(.released), "\(kinds)")
        #expect(!kinds.contains(.delivered), "\(kinds)")
        #expect(sent.server.entries("blobs").count == 1)
        let again = try sent.server.sftp("newvendor", ["get /inbox/\(sent.id).sealdrop again.sealdrop"])
        #expect(again.status == 0, "\(again.standardError)")
        #expect(try sent.server.directory.read("again.sealdrop") == sent.envelope)
    }
}
