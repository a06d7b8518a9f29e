import Foundation
import SealdropSFTP
import Testing
import TestSupport

/// Clients that connect and stall, in key exchange or in the middle of an
/// upload: others are served meanwhile, and the stalled ones are dropped
/// at their timeouts, giving back what they held.
@Suite struct SlowClientTests {
    @Test func clientsStalledInKeyExchangeBlockNobodyAndAreDroppedAtTheLoginTimeout() throws {
        let server = try ServerFixture(settings: ["login-timeout = 3s"])
        // Each sends its banner and the start of a key exchange packet, then nothing.
        let stalled = try (2...5).map { host -> Int32 in
            let fd = try PreLoginLimitsTests.silentConnection(from: "127.0.0.\(host)", port: server.port)
            let partial = Array("SSH-2.0-stall\r\n".utf8) + [0, 0, 1, 0, 7, 20]
            #expect(send(fd, partial, partial.count, Int32(MSG_NOSIGNAL)) == partial.count)
            return fd
        }
        defer { stalled.forEach { close($0) } }
        let started = Date()
        let other = try server.sftp("newvendor", ["ls /"])
        #expect(other.status == 0, "a client logs in while four stall: \(other.standardError)")
        #expect(Date().timeIntervalSince(started) < 3, "and is not held up by them")
        // The server hangs up on each within the login timeout (plus a margin for a loaded machine).
        for fd in stalled {
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 4096)
            var got = 1
            while got > 0 { got = recv(fd, &buffer, buffer.count, 0) }
            #expect(got == 0 || errno == ECONNRESET, "the stalled connection was closed, not timed out here: \(String(cString: strerror(errno)))")
        }
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 2.5, "dropped at the login timeout, not before: \(waited) s")
        print("four clients stalled in key exchange were dropped after \(String(format: "%.1f", waited)) s (login-timeout 3 s)")
        #expect(server.log().contains("ended before sftp"))
    }

    @Test func aClientStalledMidUploadIsDroppedAtTheIdleTimeoutAndItsUploadRemoved() throws {
        let server = try ServerFixture(settings: ["idle-timeout = 2s"])
        let envelope = try server.seal(Fixtures.bytes(200_000))
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: server.directory.file(envelope))))
        let client = try RawSFTPClient(server, user: "oldvendor")
        let opened = try client.exchange(.open(id: client.id(), path: Array("/outbox/newvendor/stalled".utf8), flags: [.write, .create], attributes: .empty))
        guard case .handle(_, let handle) = opened else {
            Issue.record("no upload handle: \(opened)")
            return
        }
        let half = Array(bytes.prefix(bytes.count / 2))
        guard case .status(_, .ok, _) = try client.exchange(.write(id: client.id(), handle: handle, offset: 0, data: half)) else {
            Issue.record("the first half was not written")
            return
        }
        #expect(server.entries("staging").count == 1, "half an upload is staged")
        let started = Date()
        // Stalled: nothing more is sent. Another vendor is served meanwhile.
        let other = try server.sftp("newvendor", ["ls /inbox"])
        #expect(other.status == 0, "\(other.standardError)")
        client.process.waitUntilExit()
        let waited = Date().timeIntervalSince(started)
        #expect(waited < 10, "the stalled session was ended by the idle timeout: \(waited) s")
        print("a client stalled mid-upload was dropped after \(String(format: "%.1f", waited)) s (idle-timeout 2 s)")
        #expect(server.entries("staging").isEmpty, "its staged bytes were removed")
        #expect(server.entries("blobs").isEmpty, "nothing was published")
        // Its reservation went too: the whole envelope can be sent now.
        let sent = try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/x"])
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(server.entries("blobs").count == 1)
    }
}
