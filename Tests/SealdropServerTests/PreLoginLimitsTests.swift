import Foundation
@testable import SealdropDaemon
import SealdropServer
import Synchronization
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
        for host in 1...3 { #expect((try? admission.admit(source: "192.0.2.\(host)", ticket: host, draw: 0).get())?.range == "192.0.2.0/24") }
        #expect(throws: LoginRefusal.self) { try admission.admit(source: "192.0.2.77", ticket: 4, draw: 0.99).get() }
        #expect((try? admission.admit(source: "198.51.100.1", ticket: 5, draw: 0).get())?.range == "198.51.100.0/24", "another range is not affected")
        let first = admission.finished(1)
        let again = admission.finished(1)
        #expect(first && !again, "a slot is given back once")
        #expect((try? admission.admit(source: "192.0.2.9", ticket: 6, draw: 0).get()) != nil, "a slot freed by a login is reused")
        #expect(admission.total == 4)
    }

    @Test func randomEarlyDropFollowsOpenSSHsCurve() {
        // 10:30:20: nothing refused below 10, 30 % at 10, 65 % at 15, all at 20.
        let limits = LoginAdmission.Limits(start: 10, rate: 30, full: 20, perSource: 1000)
        // One slot per /16: nobody holds more than the newcomer could take.
        func admission(holding count: Int) -> LoginAdmission {
            var admission = LoginAdmission(limits: limits)
            for index in 0..<count { _ = admission.admit(source: "10.\(index).0.1", ticket: index, draw: 0.999) }
            #expect(admission.total == count)
            return admission
        }
        var below = admission(holding: 9)
        #expect((try? below.admit(source: "10.99.9.9", ticket: 99, draw: 0).get()) != nil, "below start every connection is admitted")
        for (held, refusedBelow) in [(10, 0.30), (15, 0.65)] {
            var edge = admission(holding: held)
            let under = edge.admit(source: "10.99.9.9", ticket: 99, draw: refusedBelow - 0.001)
            #expect((try? under.get()) == nil, "drawn under \(refusedBelow) at \(held): refused")
            var lucky = admission(holding: held)
            let over = lucky.admit(source: "10.99.9.9", ticket: 99, draw: refusedBelow + 0.001)
            #expect((try? over.get()) != nil, "drawn over \(refusedBelow) at \(held): admitted")
        }
        var full = admission(holding: 20)
        #expect((try? full.admit(source: "10.99.9.9", ticket: 99, draw: 0.999).get()) == nil, "at full every connection is refused")
    }

    /// 8 slots from each of `ranges` (tickets from `firstTicket`), as the attack pass held them.
    static func flooded(_ ranges: [String], limits: LoginAdmission.Limits = .init(), firstTicket: Int = 0) -> LoginAdmission {
        var admission = LoginAdmission(limits: limits)
        var ticket = firstTicket
        for prefix in ranges {
            for host in 1...8 {
                _ = admission.admit(source: "\(prefix).\(host)", ticket: ticket, draw: 0.999)
                ticket += 1
            }
        }
        return admission
    }

    @Test func aRangeHoldingFewerSlotsPreemptsTheOldestOfTheHeaviest() throws {
        var admission = Self.flooded(["10.1.0", "10.2.0", "10.3.0", "10.4.0"])
        #expect(admission.total == 32)
        let first = try admission.admit(source: "10.5.0.1", ticket: 100, draw: 0.999).get()
        #expect(first.range == "10.5.0.0/24")
        #expect(first.preempted?.ticket == 0, "the oldest connection of the (first) heaviest range")
        #expect(first.preempted?.slot.source == "10.1.0.1" && first.preempted?.slot.range == "10.1.0.0/24")
        let released = admission.finished(0)
        #expect(!admission.holds(0) && !released, "the preempted connection holds nothing any more")
        #expect(admission.total == 32)
        // The flooding ranges cannot take the slot back: each holds more than the newcomer.
        for (ticket, source) in [(101, "10.1.0.99"), (102, "10.2.0.99"), (103, "10.4.0.99")] {
            let refused = admission.admit(source: source, ticket: ticket, draw: 0.999)
            #expect((try? refused.get()) == nil, "\(source) refused")
        }
        #expect(admission.holds(100))
    }

    @Test func aRangeCannotPreemptPastItsFairShare() {
        var admission = Self.flooded(["10.1.0", "10.2.0", "10.3.0", "10.4.0"])
        var admitted = 0
        for host in 1...40 where (try? admission.admit(source: "10.5.0.\(host)", ticket: 100 + host, draw: 0.999).get()) != nil {
            admitted += 1
        }
        #expect(admission.inProgress["10.5.0.0/24"] == admitted)
        #expect(admitted >= 4 && admitted <= (32 + 4) / 5, "at most its share of 32 slots over 5 ranges, \(admitted) taken")
        #expect(admission.total == 32)
        for prefix in ["10.1.0", "10.2.0", "10.3.0", "10.4.0"] {
            #expect(admission.inProgress["\(prefix).0/24", default: 0] >= admitted, "\(prefix) keeps at least the newcomer's share")
        }
    }

    @Test func rangesOfOneAggregateComparedWithinIt() throws {
        // Four /24s of one /16: a fifth /24 of that /16 still preempts, at the range level.
        var same = Self.flooded(["10.1.1", "10.1.2", "10.1.3", "10.1.4"])
        #expect(try same.admit(source: "10.1.5.1", ticket: 100, draw: 0.999).get().preempted?.slot.range == "10.1.1.0/24")
        // 32 /64s of one /48, one slot each: another /48 preempts them...
        var limits = LoginAdmission.Limits()
        limits.perSource = 1
        var sixty4s = LoginAdmission(limits: limits)
        for index in 0..<32 { _ = sixty4s.admit(source: "2001:db8:1:\(String(index, radix: 16))::1", ticket: index, draw: 0.999) }
        #expect(sixty4s.total == 32)
        #expect((try? sixty4s.admit(source: "2001:db8:1:ff::1", ticket: 100, draw: 0.999).get()) == nil, "another /64 of the same /48 gains nothing")
        let other = try sixty4s.admit(source: "2001:db8:2::1", ticket: 101, draw: 0.999).get()
        #expect(other.preempted?.ticket == 0, "the /48 holding 32 slots gives one up")
        // ...but 32 /48s holding one slot each cannot be pushed back (the documented limit).
        var forty8s = LoginAdmission(limits: limits)
        for index in 0..<32 { _ = forty8s.admit(source: "2001:db8:\(String(index, radix: 16))::1", ticket: index, draw: 0.999) }
        #expect((try? forty8s.admit(source: "2001:db9::1", ticket: 100, draw: 0.999).get()) == nil)
    }

    @Test func theRandomDropAlsoPreempts() throws {
        // Past start and drawn to be refused: a range with no slot takes one from the heaviest.
        var admission = LoginAdmission(limits: .init(start: 4, rate: 100, full: 32, perSource: 8))
        for host in 1...4 { _ = admission.admit(source: "10.1.0.\(host)", ticket: host, draw: 0) }
        #expect(admission.total == 4)
        let admitted = try admission.admit(source: "10.9.0.1", ticket: 9, draw: 0).get()
        #expect(admitted.preempted?.ticket == 1)
        #expect((try? admission.admit(source: "10.1.0.9", ticket: 10, draw: 0).get()) == nil, "the heaviest range is still refused")
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

    @Test func aFifthRangeLogsInPastFourFloodingRanges() throws {
        // No random drop before full, so the flood holds exactly 4 × 8 = full.
        let server = try ServerFixture(settings: ["login-timeout = 60s", "max-startups = 32:100:32"])
        var silent = [Int32]()
        defer { silent.forEach { close($0) } }
        // One at a time, each admitted (its banner read) before the next: the admission order is the connection order.
        for range in 1...4 {
            for host in 1...8 {
                let fd = try Self.silentConnection(from: "127.\(range).0.\(host)", port: server.port)
                silent.append(fd)
                #expect(Self.firstLine(fd).hasPrefix("SSH-2.0-"), "every flooding connection was admitted")
            }
        }

        // A fifth range takes a slot: the oldest connection of the first range is dropped.
        let newcomer = try Self.silentConnection(from: "127.5.0.2", port: server.port)
        silent.append(newcomer)
        #expect(Self.firstLine(newcomer).hasPrefix("SSH-2.0-"))
        #expect(Self.isClosed(silent[0]), "127.1.0.1, the oldest of the heaviest range, was cut")
        // The flooding ranges cannot take it back: each already holds more.
        for source in ["127.1.0.50", "127.2.0.50"] {
            let again = try Self.silentConnection(from: source, port: server.port)
            silent.append(again)
            let line = Self.firstLine(again)
            #expect(
                line == "sealdropd: 32 connections are already logging in; try again shortly\r"
                    || line == "sealdropd: 8 logins from \(LoginAdmission.range(of: source)) are already in progress\r", "\(source) refused: \(line)")
        }
        let honest = try Self.sftp(server, from: "127.5.0.1")
        #expect(honest.status == 0, "an honest login from the fifth range: \(honest.standardError)")

        // One more range floods: it gets no more than its share of the slots.
        var admitted = 0
        var refused = 0
        for host in 1...12 {
            let fd = try Self.silentConnection(from: "127.6.0.\(host)", port: server.port)
            silent.append(fd)
            if Self.firstLine(fd).hasPrefix("SSH-2.0-") { admitted += 1 } else { refused += 1 }
        }
        #expect(admitted >= 1 && admitted <= 6 && refused == 12 - admitted, "at most 32 / 6 slots for 127.6.0.0/24: \(admitted) admitted")
        let log = server.log()
        #expect(log.contains("dropped a connection from 127.1.0.1: dropped while logging in"))
        #expect(log.contains("its oldest connection gave its slot to 127.5.0.0/24"))
    }

    @Test func honestLoginsGetThroughAFloodThatReconnects() throws {
        // The attack pass's flood, kept up: 8 connections from each of 4
        // ranges, each reopened as soon as the server cuts or refuses it.
        let server = try ServerFixture(settings: ["login-timeout = 30s", "max-startups = 32:100:32"])
        let flood = Flood()
        let port = server.port
        let flooders = (1...4).flatMap { range in (1...8).map { host in "127.\(range).0.\(host)" } }
        let group = DispatchGroup()
        for source in flooders {
            // Own threads: 32 blocking loops would starve the shared dispatch pool.
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while !flood.stop.load(ordering: .relaxed) {
                    guard let fd = try? Self.silentConnection(from: source, port: port) else {
                        usleep(50_000)
                        continue
                    }
                    // Holds the slot until the server cuts it (or refuses it at once).
                    while !flood.stop.load(ordering: .relaxed), !Self.isClosed(fd, within: 0.2) {}
                    close(fd)
                    usleep(50_000)
                }
            }
        }
        defer {
            flood.stop.store(true, ordering: .relaxed)
            group.wait()
        }
        Thread.sleep(forTimeInterval: 2)
        var succeeded = 0
        for _ in 0..<8 where try Self.sftp(server, from: "127.5.0.1").status == 0 { succeeded += 1 }
        #expect(succeeded == 8, "honest logins from a fifth range while the flood goes on: \(succeeded) of 8")
        #expect(server.log().contains("its oldest connection gave its slot to 127.5.0.0/24"), "the slots were full: logins preempted")
    }

    final class Flood: Sendable {
        let stop = Atomic<Bool>(false)
    }

    /// The first line the server sends on `fd` (its SSH banner, or a refusal), "" if none within 10 s.
    static func firstLine(_ fd: Int32) -> String {
        var line = [UInt8]()
        var byte: UInt8 = 0
        let deadline = Date().addingTimeInterval(10)
        while line.count < 300, Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) >= 0 else { break }
            if poller.revents == 0 { continue }
            guard recv(fd, &byte, 1, 0) == 1 else { break }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// True once the server closed `fd` (after what it sent first), within `seconds`.
    static func isClosed(_ fd: Int32, within seconds: TimeInterval = 10) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) >= 0 else { return false }
            if poller.revents == 0 { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return true }
        }
        return false
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
