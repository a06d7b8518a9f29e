import Foundation
import Glibc
import SealdropProxy
import SealdropStore
import Testing
import TestSupport

/// `proxy-protocol-from`: a node behind a balancer learns each client's
/// address from the balancer's PROXY v2 header, accepts the header only
/// from the balancer, and answers health checks without logging them.
/// Real bytes over loopback: the "balancer" connects from 127.0.0.2.
@Suite(.serialized) struct ProxyProtocolTests {
    static let balancer = "127.0.0.2"

    static func header(claiming client: String, port: UInt16 = 40000) -> [UInt8] {
        var address = in_addr()
        inet_pton(AF_INET, client, &address)
        let bytes = withUnsafeBytes(of: address) { Array($0) }
        return
            (try? ProxyHeader.proxy(source: ProxyEndpoint(address: bytes, port: port), destination: ProxyEndpoint(address: [127, 0, 0, 1], port: 2222)).encode())
            ?? []
    }

    func events(_ server: ServerFixture) throws -> [TransferEvent] {
        try SQLiteTransferStore(path: server.data + "/metadata.sqlite").events()
    }

    @Test func aRelayedClientIsKnownByTheAddressInItsHeader() throws {
        let server = try ServerFixture(settings: ["proxy-protocol-from = \(Self.balancer)"])
        let relay = try ProxyRelay(to: server.port, from: Self.balancer) { _ in Self.header(claiming: "203.0.113.7") }
        let listed = try server.sftp("newvendor", port: relay.port, ["ls /inbox"])
        #expect(listed.status == 0, "\(listed.standardError)")
        server.stop()
        let logins = try events(server).filter { $0.kind == .loginAccepted }
        #expect(logins.map(\.sourceAddress) == ["203.0.113.7"], "the log names the client, not the balancer")
    }

    @Test func connectionsThatGoAroundTheBalancerAreRefused() throws {
        let server = try ServerFixture(settings: ["proxy-protocol-from = \(Self.balancer)"])
        // Plain SSH straight to the node.
        let direct = try server.sftp("newvendor", ["ls /inbox"])
        #expect(direct.status != 0)
        // A PROXY header from an address not listed: it does not get to choose its address.
        let fd = try LoopbackSocket.connect(to: server.port, from: "127.0.0.3")
        defer { close(fd) }
        LoopbackSocket.send(fd, Self.header(claiming: "198.51.100.1") + Array("SSH-2.0-OpenSSH_9.2\r\n".utf8))
        let answer = LoopbackSocket.readUntilClosed(fd)
        #expect(answer.closed)
        #expect(String(decoding: answer.bytes, as: UTF8.self) == "sealdropd: this node accepts connections only through its balancer\r\n")
        server.stop()
        let all = try events(server)
        #expect(!all.contains { $0.kind == .loginAccepted })
        #expect(!all.contains { $0.sourceAddress == "198.51.100.1" })
        // Both refusals are on the record: from one /24, the second is
        // counted in the range's summary.
        let refused = all.filter { $0.kind == .refusedSession }
        #expect(refused.reduce(0) { $0 + Int($1.count ?? 1) } == 2, "\(refused.map(\.detail))")
        #expect(refused.allSatisfy { ["127.0.0.1", "127.0.0.3", "127.0.0.0/24"].contains($0.sourceAddress) })
    }

    @Test(
        arguments: [
            ("plain SSH", Array("SSH-2.0-OpenSSH_9.2\r\n".utf8)),
            ("version 1 text", Array("PROXY TCP4 198.51.100.1 127.0.0.1 5555 2222\r\n".utf8)),
            ("a bad command", Array(header(claiming: "198.51.100.1").prefix(12)) + [0x2F, 0x11, 0, 12] + [UInt8](repeating: 1, count: 12)),
            ("a body over the limit", Array(header(claiming: "198.51.100.1").prefix(14)) + [0xFF, 0xFF] + [UInt8](repeating: 1, count: 64)),
            ("half a header, then silence", Array(header(claiming: "198.51.100.1").prefix(20))),
            ("nothing", []),
        ] as [(String, [UInt8])])
    func aBalancerConnectionWithoutAValidHeaderIsDroppedUnanswered(_ name: String, _ bytes: [UInt8]) throws {
        let server = try ServerFixture(settings: ["proxy-protocol-from = \(Self.balancer)", "proxy-header-timeout = 1s"])
        let fd = try LoopbackSocket.connect(to: server.port, from: Self.balancer)
        defer { close(fd) }
        LoopbackSocket.send(fd, bytes)
        let answer = LoopbackSocket.readUntilClosed(fd)
        #expect(answer.closed, "\(name): dropped")
        #expect(answer.bytes.isEmpty, "\(name): no SSH banner, no word: \(String(decoding: answer.bytes, as: UTF8.self))")
        // The node still serves the balancer's next, valid, connection.
        let relay = try ProxyRelay(to: server.port, from: Self.balancer) { _ in Self.header(claiming: "203.0.113.8") }
        #expect(try server.sftp("newvendor", port: relay.port, ["ls /inbox"]).status == 0)
        server.stop()
        #expect(!(try events(server)).contains { $0.sourceAddress == "198.51.100.1" })
    }

    @Test func healthChecksGetTheBannerAndLeaveNoLogEntry() throws {
        let server = try ServerFixture(settings: ["proxy-protocol-from = \(Self.balancer)"])
        for _ in 0..<20 {
            let fd = try LoopbackSocket.connect(to: server.port, from: Self.balancer)
            LoopbackSocket.send(fd, ProxyHeader.local.encode())
            let answer = LoopbackSocket.readUntilClosed(fd)
            close(fd)
            #expect(answer.closed)
            #expect(String(decoding: answer.bytes, as: UTF8.self) == "SSH-2.0-sealdropd\r\n")
        }
        let log = server.log()
        #expect(!(try events(server)).contains { $0.sourceAddress == Self.balancer }, "health checks are not events")
        #expect(!log.contains(Self.balancer), "nor lines in the server's log: \(log)")
    }

    /// Behind one balancer every client has the balancer's TCP address: the
    /// failed-login limit must count the address in the header, or one
    /// client's failures would lock everyone out.
    @Test func theFailedLoginLimitCountsTheClientNotTheBalancer() throws {
        let server = try ServerFixture(settings: ["proxy-protocol-from = \(Self.balancer)", "failed-logins-per-minute = 2"])
        let attacker = try ProxyRelay(to: server.port, from: Self.balancer) { _ in Self.header(claiming: "198.51.100.66") }
        for _ in 0..<3 {
            // The wrong key for the name: a failed login.
            #expect(try server.sftp("newvendor", identity: "oldvendor", port: attacker.port, ["ls /inbox"]).status != 0)
        }
        let stillRefused = try server.sftp("newvendor", port: attacker.port, ["ls /inbox"])
        #expect(stillRefused.status != 0, "the client over the limit is refused even with the right key")
        let other = try ProxyRelay(to: server.port, from: Self.balancer) { _ in Self.header(claiming: "203.0.113.9") }
        let listed = try server.sftp("newvendor", port: other.port, ["ls /inbox"])
        #expect(listed.status == 0, "another client behind the same balancer logs in: \(listed.standardError)")
        server.stop()
        let all = try events(server)
        #expect(all.contains { $0.kind == .refusedSession && $0.sourceAddress == "198.51.100.66" && $0.detail.contains("too many failed logins") })
        #expect(all.filter { $0.kind == .loginAccepted }.map(\.sourceAddress) == ["203.0.113.9"])
    }

    /// A free loopback port (bound and released; HAProxy binds it next).
    static func freePort() throws -> Int {
        let fd = try LoopbackSocket.connectableListener()
        defer { close(fd.socket) }
        return fd.port
    }

    /// The committed ops/haproxy.cfg, with a real HAProxy: its health checks
    /// (PROXY LOCAL through `tcp-check connect default`) keep the node up
    /// and leave no trace; a vendor's session passes through with its own
    /// address (the sftp client binds 127.0.0.5) in the node's log.
    @Test func theCommittedHAProxyConfigurationWorksWithARealHAProxy() throws {
        let haproxy = try #require(Subprocess.which("haproxy"), "HAProxy is installed by ops/lib/setup.sh (test packages)")
        let server = try ServerFixture(settings: ["proxy-protocol-from = 127.0.0.1"])
        let balancerPort = try Self.freePort()
        let node = "127.0.0.1:\(server.port)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: haproxy)
        process.arguments = ["-db", "-f", Fixtures.root + "/ops/haproxy.cfg"]
        process.environment = [
            "SEALDROP_BALANCER_BIND": "127.0.0.1:\(balancerPort)", "SEALDROP_NODE1": node, "SEALDROP_NODE2": node, "SEALDROP_NODE3": node,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        defer {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        // Three check intervals (2 s): a node whose checks failed would be down by now.
        Thread.sleep(forTimeInterval: 6.5)
        let listed = try server.sftp("newvendor", port: balancerPort, options: ["-o", "BindAddress=127.0.0.5"], ["ls /inbox"])
        #expect(listed.status == 0, "\(listed.standardError)")
        process.terminate()
        process.waitUntilExit()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!said.contains("DOWN"), "HAProxy's checks failed: \(said)")
        let log = server.log()
        let all = try events(server)
        #expect(all.filter { $0.kind == .loginAccepted }.map(\.sourceAddress) == ["127.0.0.5"], "the vendor's address, from the header")
        #expect(!all.contains { $0.kind == .refusedSession }, "no check was refused or dropped: \(all.map(\.detail))")
        #expect(!log.contains("dropped") && !log.contains("refused"), "\(log)")
    }
}
