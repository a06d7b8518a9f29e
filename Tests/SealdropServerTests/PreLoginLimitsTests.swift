import Foundation
@testable import SealdropDaemon
import SealdropServer
import Testing
import TestSupport

/// Connections that never log in: random early drop over all of them
/// (OpenSSH's MaxStartups) and a limit per source range, attacked with
/// silent connections from several loopback addresses.
@Suite struct PreLoginLimitsTests {
    @Test func sourcesCountByTheirRange() {
        #expect(LoginAdmission.range(of: "127.0.0.1") == "127.0.0.0/24")
        #expect(LoginAdmission.range(of: "127.0.0.200") == "127.0.0.0/24")
        #expect(LoginAdmission.range(of: "127.0.1.1") == "127.0.1.0/24")
        #expect(LoginAdmission.range(of: "10.1.2.3", ipv4Prefix: 32) == "10.1.2.3/32")
        #expect(LoginAdmission.range(of: "10.1.2.3", ipv4Prefix: 20) == "10.1.0.0/20")
        #expect(LoginAdmission.range(of: "::ffff:192.0.2.9") == "192.0.2.0/24", "an IPv4-mapped address counts as IPv4")
        #expect(LoginAdmission.range(of: "2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64")
        #expect(LoginAdmission.range(of: "2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64")
        #expect(LoginAdmission.range(of: "::1") == "::/64")
        #expect(LoginAdmission.range(of: "not an address") == "not an address")
    }

    @Test func oneRangeIsRefusedWithoutTouchingOthers() {
        var admission = LoginAdmission(limits: .init(start: 100, rate: 30, full: 100, perSource: 3))
        for host in 1...3 { #expect((try? admission.admit(source: "192.0.2.\(host)", draw: 0).get()) == "192.0.2.0/24") }
        #expect(throws: LoginRefusal.self) { try admission.admit(source: "192.0.2.77", draw: 0.99).get() }
        #expect((try? admission.admit(source: "198.51.100.1", draw: 0).get()) == "198.51.100.0/24", "another range is not affected")
        admission.finished("192.0.2.0/24")
        #expect((try? admission.admit(source: "192.0.2.9", draw: 0).get()) != nil, "a slot freed by a login is reused")
        #expect(admission.total == 4)
    }

    @Test func randomEarlyDropFollowsOpenSSHsCurve() {
        // 10:30:20: nothing refused below 10, 30 % at 10, 65 % at 15, all at 20.
        let limits = LoginAdmission.Limits(start: 10, rate: 30, full: 20, perSource: 1000)
        func admission(holding count: Int) -> LoginAdmission {
            var admission = LoginAdmission(limits: limits)
            for index in 0..<count { _ = admission.admit(source: "10.0.\(index).1", draw: 0.999) }
            #expect(admission.total == count)
            return admission
        }
        var below = admission(holding: 9)
        #expect((try? below.admit(source: "10.9.9.9", draw: 0).get()) != nil, "below start every connection is admitted")
        for (held, refusedBelow) in [(10, 0.30), (15, 0.65)] {
            var edge = admission(holding: held)
            #expect((try? edge.admit(source: "10.9.9.9", draw: refusedBelow - 0.001).get()) == nil, "drawn under \(refusedBelow) at \(held): refused")
            var lucky = admission(holding: held)
            #expect((try? lucky.admit(source: "10.9.9.9", draw: refusedBelow + 0.001).get()) != nil, "drawn over \(refusedBelow) at \(held): admitted")
        }
        var full = admission(holding: 20)
        #expect((try? full.admit(source: "10.9.9.9", draw: 0.999).get()) == nil, "at full every connection is refused")
    }

    @Test func theSettingsAreReadAndChecked() throws {
        var settings = ServerSettings()
        try settings.set("max-startups", "5:50:12")
        try settings.set("logins-in-progress-per-source", "3")
        try settings.set("source-prefix-ipv4", "32")
        try settings.set("source-prefix-ipv6", "48")
        #expect(settings.loginLimits == LoginAdmission.Limits(start: 5, rate: 50, full: 12, perSource: 3, ipv4Prefix: 32, ipv6Prefix: 48))
        for bad in ["5:50", "12:50:5", "0:50:5", "5:0:12", "5:101:12", "a:b:c", "5:50:12:1"] {
            #expect(throws: SettingsError.self, "\(bad)") { try settings.set("max-startups", bad) }
        }
        #expect(throws: SettingsError.self) { try settings.set("source-prefix-ipv4", "33") }
        #expect(throws: SettingsError.self) { try settings.set("source-prefix-ipv6", "0") }
        #expect(ServerSettings().loginLimits.full < ServerSettings().maximumSessions, "a flood leaves slots for vendors who log in")
    }

    @Test func silentConnectionsFromOneRangeDoNotLockOutAnother() throws {
        let server = try ServerFixture(settings: ["login-timeout = 3s", "logins-in-progress-per-source = 4"])
        // Four silent connections from two addresses of 127.0.0.0/24.
        let silent = try (0..<4).map { try Self.silentConnection(from: $0 < 2 ? "127.0.0.2" : "127.0.0.3", port: server.port) }
        defer { silent.forEach { close($0) } }
        usleep(300_000)
        #expect(try server.sftp("newvendor", ["ls /"]).status != 0, "127.0.0.1 is in the same /24: its range is full")
        let other = try Self.sftp(server, from: "127.0.1.1")
        #expect(other.status == 0, "another range logs in: \(other.standardError)")
        #expect(server.log().contains("logins from 127.0.0.0/24 are already in progress"))
    }

    @Test func aFloodFromManyRangesHoldsAtMostFull() throws {
        // 4:100:4: from 4 connections logging in, every new one is refused.
        let server = try ServerFixture(settings: ["login-timeout = 3s", "max-startups = 4:100:4"])
        let silent = try (1...4).map { try Self.silentConnection(from: "127.0.\($0 + 10).1", port: server.port) }
        defer { silent.forEach { close($0) } }
        usleep(300_000)
        #expect(try Self.sftp(server, from: "127.0.20.1").status != 0, "four connections logging in, from four ranges, hold every login slot")
        Thread.sleep(forTimeInterval: 4)
        let after = try Self.sftp(server, from: "127.0.20.1")
        #expect(after.status == 0, "the silent ones timed out and gave their slots back: \(after.standardError)")
        #expect(server.log().contains("connections are already logging in"))
    }

    /// A TCP connection from `source` that sends nothing.
    static func silentConnection(from source: String, port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, connected == 0 else {
            close(fd)
            throw FixtureError.setup("cannot connect from \(source): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// OpenSSH's sftp listing `/` as newvendor, from the loopback address `source`.
    static func sftp(_ server: ServerFixture, from source: String) throws -> ProcessResult {
        let batch = try server.directory.write(Array("ls /\n".utf8), to: "batch-\(UUID().uuidString)")
        return try Subprocess.run(
            Subprocess.which("sftp") ?? "/usr/bin/sftp",
            server.sshOptions("newvendor") + ["-o", "BindAddress=\(source)", "-b", batch, "newvendor@127.0.0.1"], directory: server.directory.path)
    }
}
