import Foundation
import SealdropSFTP
import SealdropStore
import SealdropTrust
import Testing
import TestSupport

/// The same drop box as an OpenSSH `Subsystem` (stdin/stdout), driven by
/// `sftp -D`, which speaks to a local server program directly.
@Suite struct SubsystemModeTests {
    @Test func openSSHSftpWorksOverStandardInputAndOutput() throws {
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        let trust = directory.file("ca/trust")
        _ = try directory.write(Fixtures.bytes(80_000), to: "x.plain")
        let sealed = try Subprocess.run(
            Fixtures.sealdrop, ["seal", "x.plain", "-o", "x.sealdrop", "--to", "newvendor", "--identity", "oldvendor"],
            environment: ["SEALDROP_TRUST": trust], directory: directory.path)
        #expect(sealed.status == 0, "\(sealed.standardError)")

        func sftp(_ vendor: String, _ commands: [String]) throws -> ProcessResult {
            let batch = try directory.write(Array((commands.joined(separator: "\n") + "\n").utf8), to: "batch-\(vendor)")
            let server = "\(Fixtures.sealdropd) sftp-subsystem --vendor \(vendor) --data \(directory.file("data")) --trust \(trust)"
            return try Subprocess.run(Subprocess.which("sftp")!, ["-D", server, "-b", batch], directory: directory.path)
        }
        #expect(try sftp("oldvendor", ["put x.sealdrop /outbox/newvendor/"]).status == 0)
        let got = try sftp("newvendor", ["cd /inbox", "get *.sealdrop received.sealdrop"])
        #expect(got.status == 0, "\(got.standardError)")
        #expect(try directory.read("received.sealdrop") == (try directory.read("x.sealdrop")))
        #expect(try sftp("formervendor", ["ls /"]).status != 0, "a revoked vendor gets no session")
    }

    /// No acceptor watches a session behind sshd: the session itself must
    /// notice that its vendor was revoked, refuse the next request and end,
    /// with the ending on the record.
    @Test func aRevokedVendorLosesTheSessionItHolds() throws {
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        let config = try directory.write(Array("trust-check-interval = 1s\nrevocation-check-interval = 1s\n".utf8), to: "sealdropd.conf")
        let arguments = [
            "sftp-subsystem", "--vendor", "newvendor", "--data", directory.file("data"), "--trust", directory.file("ca/trust"), "--config", config,
        ]
        let client = try RawSFTPClient(Fixtures.sealdropd, arguments, directory: directory.path)
        guard case .handle = try client.exchange(.opendir(id: client.id(), path: Array("/inbox".utf8))) else {
            Issue.record("no listing before the revocation")
            return
        }
        var authority = try CertificateAuthority.load(directory: directory.file("ca"), passphrase: .none)
        _ = try authority.revoke("newvendor", reason: .keyCompromise)
        sleep(3)
        let reply = try? client.exchange(.opendir(id: client.id(), path: Array("/inbox".utf8)))
        guard case .status(_, .permissionDenied, _)? = reply else {
            Issue.record("a revoked vendor still gets \(String(describing: reply))")
            return
        }
        let deadline = Date().addingTimeInterval(5)
        while client.process.isRunning, Date() < deadline { usleep(50_000) }
        #expect(!client.process.isRunning, "the session ended")
        let closed = try SQLiteTransferStore(path: directory.file("data/metadata.sqlite")).events().filter { $0.kind == .sessionClosed }
        #expect(closed.map(\.actor) == ["newvendor"], "\(closed.map(\.detail))")
    }

    /// A data path that is a file: a usage error naming it, no Foundation text.
    @Test func aDataPathThatIsAFileIsAClearError() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write([1], to: "not-a-folder")
        let result = try Subprocess.run(
            Fixtures.sealdropd, ["sftp-subsystem", "--vendor", "newvendor", "--data", file, "--trust", directory.file("trust")], directory: directory.path)
        #expect(result.status == 64, "\(result.standardError)")
        #expect(result.standardError.contains("\(file) is not a directory"), "\(result.standardError)")
    }
}
