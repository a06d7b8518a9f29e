import Foundation
import SealdropStore
import SealdropTrust
import Testing
import TestSupport

/// The real server's lifecycle: crashes mid-download, leases, signals, a
/// burst of connections, sessions ended by revocation or age.
@Suite struct LifecycleIntegrationTests {
    /// Uploads a fresh envelope from oldvendor to newvendor; returns its id and bytes.
    func sendOne(_ server: ServerFixture, size: Int = 300_000) throws -> (id: String, envelope: [UInt8]) {
        let envelope = try server.seal(Fixtures.bytes(size, seed: 21))
        let put = try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"])
        try #require(put.status == 0, "\(put.standardError)")
        let listing = try server.sftp("newvendor", ["ls /inbox"]).output
        let id = try #require(
            listing.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasSuffix(".sealdrop") && !$0.hasPrefix("sftp") }
                .map { String($0.split(separator: "/").last!.dropLast(9)) })
        return (id, try server.directory.read(envelope))
    }

    func events(_ server: ServerFixture) throws -> [TransferEvent] {
        try SQLiteTransferStore(path: server.data + "/metadata.sqlite").events()
    }

    /// The server dies after every byte went out but before the client's
    /// CLOSE: nothing says the client kept them, so the handle does not
    /// count; the recipient downloads it again, and that CLOSE delivers it once.
    @Test(arguments: [false, true])
    func killedBeforeCloseTheTransferIsServedAgainAndDeliveredOnce(_ everyByte: Bool) throws {
        let first = try ServerFixture()
        let (id, envelope) = try sendOne(first)
        let client = try RawSFTPClient(first, user: "newvendor")
        let handle = try client.openForReading("/inbox/\(id).sealdrop")
        let served = try client.read(handle, limit: everyByte ? .max : 100_000)
        #expect(served == Array(envelope.prefix(served.count)))
        #expect(everyByte ? served.count == envelope.count : served.count == 100_000)
        first.crash()
        client.kill()

        let restarted = try ServerFixture(reusing: first.directory)
        #expect(restarted.entries("blobs").count == 1, "a download without CLOSE is not a delivery")
        let again = try restarted.sftp("newvendor", ["get /inbox/\(id).sealdrop again.sealdrop"])
        #expect(again.status == 0, "\(again.standardError)")
        #expect(try restarted.directory.read("again.sealdrop") == envelope)
        #expect(restarted.entries("blobs").isEmpty, "delivered at that CLOSE")
        #expect(try restarted.sftp("newvendor", ["get /inbox/\(id).sealdrop twice.sealdrop"]).status != 0)
        let recorded = try events(restarted).filter { $0.transferID == id }
        #expect(recorded.contains { $0.kind == .released && $0.detail.contains("their reads do not count") }, "\(recorded.map(\.detail))")
        #expect(recorded.filter { $0.kind == .delivered }.count == 1)
        #expect(Array(recorded.map(\.kind).suffix(2)) == [.delivered, .deleted])
        #expect(try restarted.sftp("oldvendor", ["ls -l /sent"]).output.contains("delivered"))
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aStopSignalEndsTheServerWithStatusZeroWithinTheGrace(_ number: Int32) throws {
        let server = try ServerFixture(settings: ["shutdown-grace = 2s"])
        let (id, _) = try sendOne(server, size: 100_000)
        // A session in flight, holding a partly read download.
        let client = try RawSFTPClient(server, user: "newvendor")
        _ = try client.read(try client.openForReading("/inbox/\(id).sealdrop"), limit: 10_000)
        let signalled = Date()
        kill(server.process.processIdentifier, number)
        let deadline = signalled.addingTimeInterval(2 + 2 + 5)
        while server.process.isRunning, Date() < deadline { usleep(20_000) }
        print("stop: exited \(String(format: "%.2f", Date().timeIntervalSince(signalled))) s after signal \(number), with a session open (grace 2 s)")
        #expect(!server.process.isRunning, "still running after the grace period")
        guard !server.process.isRunning else { return }
        #expect(server.process.terminationReason == .exit)
        #expect(server.process.terminationStatus == 0)
        let log = server.log()
        #expect(log.contains("no new sessions") && log.contains("stopped"), "\(log)")
        client.kill()
        let kinds = try events(server).filter { $0.transferID == id }.map(\.kind)
        #expect(kinds.last == .released, "the cut session gave its claim back for a resume: \(kinds)")
    }

    @Test func aBurstOfConnectionsIsQueuedByTheKernelAndAnsweredPromptly() throws {
        let server = try ServerFixture(settings: ["login-timeout = 5s"])
        let burst = 200
        let somaxconn =
            Int((try? String(contentsOfFile: "/proc/sys/net/core/somaxconn", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 4096
        // Stopped, the server accepts nothing: only the kernel's queue (the backlog) takes connections.
        kill(server.process.processIdentifier, SIGSTOP)
        var sockets = [Int32]()
        defer { sockets.forEach { close($0) } }
        for _ in 0..<burst {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(server.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            sockets.append(fd)
        }
        usleep(500_000)
        let established = sockets.filter { fd in
            var poll = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return Glibc.poll(&poll, 1, 0) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
        }.count
        #expect(established == min(burst, somaxconn + 1), "connections completed while the server was stopped")
        kill(server.process.processIdentifier, SIGCONT)

        let started = Date()
        var answered = 0
        var banners = 0
        var refusalLines = 0
        for fd in sockets {
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&poll, 1, Int32(max(0, 10 - Date().timeIntervalSince(started)) * 1000)) == 1 else { continue }
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = read(fd, &buffer, buffer.count)
            if count >= 0 { answered += 1 }
            if count > 0, String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix("SSH-2.0") { banners += 1 }
            if count > 0, String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix("sealdropd: ") { refusalLines += 1 }
        }
        let seconds = Date().timeIntervalSince(started)
        print("burst: \(answered) of \(burst) connections answered \(String(format: "%.2f", seconds)) s after the server resumed (\(banners) SSH banners)")
        #expect(answered == burst, "every connection got a banner, a refusal line or a close")
        #expect(banners >= 1)
        #expect(refusalLines >= 1, "refused connections are told why")
        sockets.forEach { close($0) }
        sockets = []
        server.stop()
        let refusals = try events(server).filter { $0.kind == .refusedSession && ["127.0.0.1", "127.0.0.0/24"].contains($0.sourceAddress) }
        #expect(refusals.count <= 2, "a flood is one entry and a count: \(refusals.map(\.detail))")
        #expect(refusals.contains { $0.detail.contains("more refused") })
    }

    @Test func aSessionEndsWhenItsVendorIsRevoked() throws {
        let server = try ServerFixture(settings: ["revocation-check-interval = 1s", "trust-check-interval = 1s", "maximum-session-lifetime = 30s"])
        let revokedClient = try RawSFTPClient(server, user: "newvendor")
        let stayingClient = try RawSFTPClient(server, user: "oldvendor")
        var authority = try CertificateAuthority.load(directory: server.directory.file("ca"), passphrase: .none)
        _ = try authority.revoke("newvendor", reason: .keyCompromise)
        let deadline = Date().addingTimeInterval(10)
        while revokedClient.process.isRunning, Date() < deadline { usleep(50_000) }
        #expect(!revokedClient.process.isRunning, "the revoked vendor's session was ended")
        #expect(stayingClient.process.isRunning, "another vendor's session goes on")
        // (Foundation notices a child's exit late while another child runs: end it first.)
        stayingClient.kill()
        #expect(throws: (any Error).self) { _ = try RawSFTPClient(server, user: "newvendor") }
        let closed = try events(server).filter { $0.kind == .sessionClosed }
        #expect(closed.map(\.actor) == ["newvendor"], "\(closed.map(\.detail))")
        #expect(closed.first?.detail.contains("no longer verifies") == true)
    }

    @Test func aSessionEndsAtItsMaximumLifetime() throws {
        let server = try ServerFixture(settings: ["revocation-check-interval = 1s", "maximum-session-lifetime = 2s"])
        let client = try RawSFTPClient(server, user: "newvendor")
        let deadline = Date().addingTimeInterval(10)
        while client.process.isRunning, Date() < deadline { usleep(50_000) }
        #expect(!client.process.isRunning)
        #expect(try events(server).contains { $0.kind == .sessionClosed && $0.detail.contains("maximum lifetime") })
    }

    /// A client that sends requests and never reads the replies: once the
    /// SSH window and every buffer are full the server's write waits, and
    /// must give up within the idle timeout (libssh's session timeout), or
    /// the vendor would hold a session slot and a thread for as long as it
    /// likes. (Measured by hand: with 100,000 READs queued the server's RSS
    /// stays within 2 MB of its idle size.)
    @Test func aClientThatStopsReadingRepliesIsDisconnected() throws {
        let server = try ServerFixture(settings: ["idle-timeout = 2s", "maximum-sessions-per-vendor = 1"])
        let client = try RawSFTPClient(server, user: "newvendor")
        let handle = try client.openForReading("/directory/ca.pem")
        // About 60 MB of replies: more than every buffer between the two ends.
        client.sendWithoutReading((0..<100_000).map { .read(id: 1000 + UInt32($0), handle: handle, offset: 0, length: 131_072) })
        sleep(1)
        #expect(try server.sftp("newvendor", ["ls /"]).status != 0, "the stuck session holds newvendor's one slot")
        // The slot frees up once the stuck session is ended.
        let deadline = Date().addingTimeInterval(15)
        var admitted = false
        while !admitted, Date() < deadline {
            sleep(1)
            admitted = try server.sftp("newvendor", ["ls /"]).status == 0
        }
        #expect(admitted, "the session that stopped reading still holds its slot")
        client.kill()
        #expect(server.log().contains("newvendor: session ended: writing to 127.0.0.1 failed"))
    }

    /// A login flood from one address locks that address out, not the
    /// vendor: the same vendor from another address still gets in, and the
    /// flood is a bounded number of entries on the record.
    @Test func aFloodFromOneSourceDoesNotLockOutAnother() throws {
        let server = try ServerFixture(settings: ["failed-logins-per-minute = 3"])
        func sftp(from source: String, identity: String) throws -> ProcessResult {
            let batch = try server.directory.write(Array("ls /\n".utf8), to: "batch-flood")
            return try Subprocess.run(
                Subprocess.which("sftp") ?? "/usr/bin/sftp",
                server.sshOptions(identity) + ["-o", "BindAddress=\(source)", "-b", batch, "newvendor@127.0.0.1"], directory: server.directory.path)
        }
        for _ in 0..<12 { #expect(try sftp(from: "127.0.0.2", identity: "stranger").status != 0) }
        #expect(try sftp(from: "127.0.0.2", identity: "newvendor").status != 0, "the flooding address is refused even with the right key")
        let other = try sftp(from: "127.0.0.1", identity: "newvendor")
        #expect(other.status == 0, "another address is not locked out: \(other.standardError)")
        server.stop()
        // The first entry of each kind names the address, its summary the range.
        let flood = try events(server).filter { $0.sourceAddress == "127.0.0.2" || $0.sourceAddress == "127.0.0.0/24" }
        #expect(!flood.isEmpty && flood.allSatisfy { TransferEvent.refusalKinds.contains($0.kind) }, "\(flood.map(\.kind))")
        #expect(flood.count <= 6, "at most three kinds, each one entry and a count: \(flood.map(\.kind)) \(flood.map(\.detail))")
    }

    /// Wrong keys count as failed logins as they are offered: once the
    /// source is over its limit, even the right key in the same connection
    /// is refused (the limit is not only checked when a connection arrives).
    @Test(arguments: [(10, true), (2, false)])
    func failedAttemptsInsideOneConnectionCountTowardsTheLimit(_ limit: Int, _ admitted: Bool) throws {
        let server = try ServerFixture(settings: ["failed-logins-per-minute = \(limit)"])
        let batch = try server.directory.write(Array("ls /\n".utf8), to: "batch-keys")
        let keys = ["-i", server.directory.file("oldvendor"), "-i", server.directory.file("newvendor")]
        let result = try Subprocess.run(
            Subprocess.which("sftp") ?? "/usr/bin/sftp", server.sshOptions("stranger") + keys + ["-b", batch, "newvendor@127.0.0.1"],
            directory: server.directory.path)
        #expect((result.status == 0) == admitted, "\(result.standardError)")
        server.stop()
        let refused = try events(server).filter { $0.kind == .refusedSession }
        #expect(refused.contains { $0.detail.contains("too many failed logins") } == !admitted, "\(refused.map(\.detail))")
    }

    @Test func theServerListensOnIPv6Loopback() throws {
        let server = try ServerFixture(listen: "[::1]:0")
        let ssh = Subprocess.which("ssh-keyscan") ?? "/usr/bin/ssh-keyscan"
        let scanned = try Subprocess.run(ssh, ["-p", String(server.port), "-t", "ed25519", "::1"])
        #expect(scanned.output.contains("ssh-ed25519"), "\(scanned.standardError)")
    }
}
