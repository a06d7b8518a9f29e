import Foundation
import SealdropServer
import SealdropStore
import SealdropTrust
import Testing
import TestSupport

/// The drop box behind the host's OpenSSH: a throwaway `sshd` (its own
/// port, host key and configuration) with the shipped drop-in
/// `ops/sshd/sealdrop-vendors.conf`, `sealdropd authorized-keys` as its
/// AuthorizedKeysCommand and `sealdropd sftp-subsystem` as its ForceCommand;
/// OpenSSH's `sftp` logs in through it. sshd runs the key command only
/// from a root-owned path no one else may write, so this runs as root.
@Suite(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd")))
struct OpenSSHFrontTests {
    @Test func sshdAuthenticatesAndSealdropdServes() throws {
        let front = try OpenSSHFront()
        defer { front.stop() }
        let directory = front.directory
        _ = try directory.write(Fixtures.bytes(120_000, seed: 7), to: "x.plain")
        let sealed = try Subprocess.run(
            Fixtures.sealdrop, ["seal", "x.plain", "-o", "x.sealdrop", "--to", "newvendor", "--identity", "oldvendor"],
            environment: ["SEALDROP_TRUST": front.trust], directory: directory.path)
        #expect(sealed.status == 0, "\(sealed.standardError)")

        let upload = try front.sftp(as: "oldvendor", ["put x.sealdrop /outbox/newvendor/"])
        #expect(upload.status == 0, "\(upload.standardError)\n\(front.log())")
        let got = try front.sftp(as: "newvendor", ["cd /inbox", "get *.sealdrop received.sealdrop"])
        #expect(got.status == 0, "\(got.standardError)")
        #expect(try directory.read("received.sealdrop") == (try directory.read("x.sealdrop")))
        // The single download: the inbox is empty now, a second get fails.
        let again = try front.sftp(as: "newvendor", ["cd /inbox", "get *.sealdrop again.sealdrop"])
        #expect(again.status != 0)
        #expect(!FileManager.default.fileExists(atPath: directory.file("again.sealdrop")))

        // A revoked vendor and a stranger's key never get past sshd: the key
        // command lists no key for them, so no session (and no sealdropd) runs.
        for vendor in ["formervendor"] {
            let refused = try front.sftp(as: vendor, ["ls /"])
            #expect(refused.status != 0)
            #expect(refused.standardError.contains("Permission denied"), "\(refused.standardError)")
        }
        let unknownKey = try Subprocess.run(Fixtures.sealdrop, ["keygen", "-o", "unknown", "--comment", "unknown"], directory: directory.path)
        #expect(unknownKey.status == 0)
        #expect(try front.sftp(as: "unknown", ["ls /"]).status != 0)

        // The sealdrop client through sshd: it logs in as the shared account
        // (LOGIN@HOST) and pins sshd's own host key.
        func client(_ vendor: String, _ arguments: [String]) throws -> ProcessResult {
            try Subprocess.run(
                Fixtures.sealdrop,
                arguments + [
                    "--server", "root@127.0.0.1:\(front.port)", "--host-key", front.hostKeyFingerprint, "--vendor", vendor,
                    "--identity", directory.file(vendor), "--ca", directory.file("ca/trust/ca.pem"),
                ], environment: ["XDG_CONFIG_HOME": directory.file("config-\(vendor)")], directory: directory.path)
        }
        _ = try directory.write(Fixtures.bytes(70_000, seed: 8), to: "y.plain")
        let sent = try client("oldvendor", ["send", "y.plain", "--to", "newvendor"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let inbox = try client("newvendor", ["inbox", "--json"])
        #expect(inbox.status == 0, "\(inbox.standardError)")
        let listed = try JSONSerialization.jsonObject(with: Data(inbox.standardOutput)) as? [[String: Any]] ?? []
        let id = try #require(listed.first?["id"] as? String)
        let received = try client("newvendor", ["receive", id, "-o", "y.received"])
        #expect(received.status == 0, "\(received.standardError)")
        #expect(try directory.read("y.received") == (try directory.read("y.plain")))

        let events = try SQLiteTransferStore(path: directory.file("data/metadata.sqlite")).events()
        let logins = events.filter { $0.kind == .loginAccepted }
        #expect(Set(logins.map(\.actor)) == ["oldvendor", "newvendor"], "\(logins.map(\.actor))")
        #expect(logins.allSatisfy { $0.detail.contains("through sshd") && $0.sourceAddress == "127.0.0.1" })
        #expect(events.filter { $0.kind == .delivered }.count == 2)
        #expect(!events.contains { $0.actor == "formervendor" })
    }

    /// Revoking a vendor takes effect at its next login: nothing to edit in
    /// sshd, the key command stops listing the key.
    @Test func aRevocationLocksTheVendorOutAtTheNextLogin() throws {
        let front = try OpenSSHFront()
        defer { front.stop() }
        #expect(try front.sftp(as: "newvendor", ["ls /inbox"]).status == 0)
        var authority = try CertificateAuthority.load(directory: front.directory.file("ca"), passphrase: .none)
        _ = try authority.revoke("newvendor", reason: .keyCompromise)
        let refused = try front.sftp(as: "newvendor", ["ls /inbox"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("Permission denied"), "\(refused.standardError)")
    }
}

/// A throwaway sshd configured with the shipped drop-in, group and account
/// names replaced by root's (the only account a test may log in as).
final class OpenSSHFront {
    let directory: TemporaryDirectory
    let trust: String
    let port: Int
    let hostKeyFingerprint: String
    private(set) var sshdPID: pid_t = 0
    /// Set by the first `stop`: a later one must not read the pid file again
    /// (its number may belong to another process by then).
    private var stopped = false
    var pidFile: String { directory.file("sshd.pid") }
    /// Root-owned, root-only folder for the key command (sshd checks every
    /// folder up to /, and /tmp is writable by all).
    let commandFolder: String

    init() throws {
        directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        trust = directory.file("ca/trust")
        let settings = try directory.write(
            Array("data = \(directory.file("data"))\ntrust = \(trust)\nrevocation-check-interval = 1s\n".utf8), to: "sealdropd.conf")
        commandFolder = "/run/sealdrop-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: commandFolder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let wrapper = commandFolder + "/sealdropd"
        try Data("#!/bin/sh\nexec \(Fixtures.sealdropd) \"$@\"\n".utf8).write(to: URL(fileURLWithPath: wrapper))
        chmod(wrapper, 0o755)

        let hostKey = directory.file("ssh_host_ed25519_key")
        #expect(try Subprocess.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]).status == 0)
        let hostPublic = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let listed = try Subprocess.run("/usr/bin/ssh-keygen", ["-l", "-f", hostKey + ".pub"]).output.split(separator: " ")
        hostKeyFingerprint = listed.count > 1 ? String(listed[1]) : ""
        port = try Self.freePort()
        try Data("[127.0.0.1]:\(port) \(hostPublic)\n".utf8).write(to: URL(fileURLWithPath: directory.file("known_hosts")))

        var dropIn = try String(contentsOfFile: Fixtures.root + "/ops/sshd/sealdrop-vendors.conf", encoding: .utf8)
        dropIn = dropIn.replacingOccurrences(of: "/usr/bin/sealdropd", with: wrapper)
        dropIn = dropIn.replacingOccurrences(of: "/etc/sealdrop/sealdropd.conf", with: settings)
        dropIn = dropIn.replacingOccurrences(of: "Match Group sealdrop-vendors", with: "Match Group root")
        dropIn = dropIn.replacingOccurrences(of: "--shared-account sealdrop ", with: "--shared-account root ")
        dropIn = dropIn.replacingOccurrences(of: "AuthorizedKeysCommandUser sealdrop", with: "AuthorizedKeysCommandUser root")
        let config = """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(hostKey)
            PidFile \(pidFile)
            UsePAM no
            StrictModes no
            PermitRootLogin prohibit-password
            AuthorizedKeysFile none
            PasswordAuthentication no
            LogLevel VERBOSE
            # sshd answers a subsystem request only for a subsystem it knows
            # (Debian's sshd_config has this line); ForceCommand then runs instead.
            Subsystem sftp internal-sftp

            """ + dropIn
        let configPath = try directory.write(Array(config.utf8), to: "sshd_config")
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let check = try Subprocess.run("/usr/sbin/sshd", ["-t", "-f", configPath])
        #expect(check.status == 0, "sshd -t: \(check.standardError)")

        // sshd closes every inherited descriptor at start, Foundation's
        // child watch among them, after which a `Process` waits on it
        // forever: let it daemonize instead (it returns once listening)
        // and stop it by the pid it writes.
        let started = try Subprocess.run("/usr/sbin/sshd", ["-f", configPath, "-E", directory.file("sshd.log")])
        #expect(started.status == 0, "sshd: \(started.standardError)")
        // The parent returns as soon as it has forked: the daemon writes its
        // pid file a moment later. Read too early, no pid was known and
        // `stop` left that sshd listening after the tests.
        let deadline = Date().addingTimeInterval(10)
        while sshdPID == 0 || !Self.accepts(port), Date() < deadline {
            if sshdPID == 0 { sshdPID = readPIDFile() }
            usleep(50_000)
        }
        #expect(sshdPID > 0, "sshd wrote no pid file: \(log())")
    }

    deinit {
        stop()
    }

    /// The pid sshd wrote to its pid file, or 0 while there is none.
    private func readPIDFile() -> pid_t {
        let text = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Runs OpenSSH's `sftp` in batch mode as `vendor` (its key file in the
    /// test folder), pinning the throwaway host key.
    func sftp(as vendor: String, _ commands: [String]) throws -> ProcessResult {
        let batch = try directory.write(Array((commands.joined(separator: "\n") + "\n").utf8), to: "batch-\(vendor)")
        return try Subprocess.run(
            Subprocess.which("sftp")!,
            [
                "-b", batch, "-P", "\(port)", "-i", directory.file(vendor), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "UserKnownHostsFile=\(directory.file("known_hosts"))", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=20",
                "root@127.0.0.1",
            ], directory: directory.path)
    }

    /// What sshd logged so far (it names the reason of a refused login).
    func log() -> String { (try? String(contentsOfFile: directory.file("sshd.log"), encoding: .utf8)) ?? "" }

    /// Ends the sshd this fixture started (by the pid it wrote, never by name).
    /// Waits for it to go, so no listener outlives the test.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if sshdPID == 0 { sshdPID = readPIDFile() }
        if sshdPID > 0 {
            let pid = sshdPID
            sshdPID = 0
            kill(pid, SIGTERM)
            // Not our child (it daemonized): poll until the pid is gone.
            let deadline = Date().addingTimeInterval(5)
            while kill(pid, 0) == 0, Date() < deadline { usleep(20_000) }
        }
        try? FileManager.default.removeItem(atPath: commandFolder)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
