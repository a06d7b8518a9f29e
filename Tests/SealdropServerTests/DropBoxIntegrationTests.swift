import Foundation
import SealdropStore
import Testing
import TestSupport

/// The real server, the real OpenSSH client, the real envelopes.
@Suite struct DropBoxIntegrationTests {
    @Test func aSealedExtractTravelsOnceFromOldvendorToNewvendor() throws {
        let server = try ServerFixture()
        let plaintext = Fixtures.bytes(700_000, seed: 11)
        let envelope = try server.seal(plaintext)

        let upload = try server.sftp("oldvendor", ["ls /outbox", "put \(envelope) /outbox/newvendor/", "ls -l /sent"])
        #expect(upload.status == 0, "\(upload.standardError)")
        #expect(upload.output.contains("/outbox/newvendor"))
        #expect(upload.output.contains("available"))
        #expect(server.entries("blobs").count == 1)
        #expect(server.entries("staging").isEmpty)

        let listing = try server.sftp("newvendor", ["ls -l /inbox"])
        let id = try #require(
            listing.output.split(separator: "\n").compactMap { line in
                line.split(separator: " ").last.flatMap { $0.hasSuffix(".sealdrop") ? String($0.dropLast(9)) : nil }
            }.first)
        #expect(listing.output.contains("oldvendor"))
        let download = try server.sftp("newvendor", ["get /inbox/\(id).sealdrop received.sealdrop", "ls /inbox"])
        #expect(download.status == 0, "\(download.standardError)")
        #expect(try server.directory.read("received.sealdrop") == (try server.directory.read(envelope)))
        #expect(server.entries("blobs").isEmpty, "the blob is deleted at delivery")

        let opened = try server.sealdrop(["open", "received.sealdrop", "-o", "received.plain", "--identity", "newvendor", "--from", "oldvendor"])
        #expect(opened.status == 0, "\(opened.standardError)")
        #expect(try server.directory.read("received.plain") == plaintext)

        let again = try server.sftp("newvendor", ["get /inbox/\(id).sealdrop again.sealdrop"])
        #expect(again.status != 0, "a second download fails")
        let secondCopy = (try? server.directory.read("again.sealdrop")) ?? []
        #expect(secondCopy.isEmpty, "nothing was served the second time")
        let sent = try server.sftp("oldvendor", ["ls -l /sent"])
        #expect(sent.output.contains("delivered"))
    }

    @Test func aCrashMidUploadPublishesNothingAndTheRestartCleansUp() throws {
        let first = try ServerFixture()
        let kept = try first.seal(Fixtures.bytes(10_000), name: "kept")
        #expect(try first.sftp("oldvendor", ["put \(kept) /outbox/newvendor/"]).status == 0)
        let big = try first.seal(Fixtures.bytes(200 * 1024 * 1024, seed: 4), name: "big")
        let batch = try first.directory.write(Array("put \(big) /outbox/newvendor/\n".utf8), to: "slow-batch")
        let upload = Process()
        upload.executableURL = URL(fileURLWithPath: Subprocess.which("sftp")!)
        upload.arguments = first.sshOptions("oldvendor") + ["-b", batch, "oldvendor@127.0.0.1"]
        upload.currentDirectoryURL = URL(fileURLWithPath: first.directory.path)
        upload.standardOutput = FileHandle.nullDevice
        upload.standardError = FileHandle.nullDevice
        try upload.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, first.entries("staging").isEmpty { usleep(10_000) }
        #expect(!first.entries("staging").isEmpty, "the upload had begun")
        first.crash()
        upload.waitUntilExit()
        #expect(upload.terminationStatus != 0)

        let restarted = try ServerFixture(reusing: first.directory)
        #expect(restarted.entries("staging").isEmpty, "the half-finished upload is gone")
        #expect(restarted.entries("blobs").count == 1, "the published transfer survived")
        let inbox = try restarted.sftp("newvendor", ["ls /inbox"])
        #expect(inbox.output.split(separator: "\n").filter { !$0.hasPrefix("sftp>") && $0.contains(".sealdrop") }.count == 1, "\(inbox.output)")
    }

    @Test func theDirectoryServesCertificatesReadOnly() throws {
        let server = try ServerFixture()
        let result = try server.sftp("newvendor", ["ls /directory", "get /directory/ca.pem ca-copy.pem", "get /directory/oldvendor.pem", "ls /receipts"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try server.directory.read("ca-copy.pem") == (try server.directory.read("ca/trust/ca.pem")))
        #expect(try server.directory.read("oldvendor.pem") == (try server.directory.read("ca/trust/vendors/oldvendor.pem")))
        _ = try server.directory.write(Array("x".utf8), to: "fake.pem")
        #expect(try server.sftp("newvendor", ["put fake.pem /directory/ca.pem"]).status != 0)
        #expect(try server.directory.read("ca/trust/ca.pem") == (try server.directory.read("ca-copy.pem")))
    }

    @Test func theHostKeyFingerprintIsTheOneOpenSSHSees() throws {
        let server = try ServerFixture()
        let listed = try Subprocess.run(Subprocess.which("ssh-keygen")!, ["-lf", server.data + "/ssh_host_ed25519_key.pub"])
        #expect(listed.output.contains(server.hostKeyFingerprint))
        let scanned = try Subprocess.run(Subprocess.which("ssh-keyscan") ?? "/usr/bin/ssh-keyscan", ["-p", String(server.port), "-t", "ed25519", "127.0.0.1"])
        let keyLine = scanned.output.split(separator: "\n").first { $0.contains("ssh-ed25519") }.map {
            $0.split(separator: " ").dropFirst().joined(separator: " ")
        }
        let published = try String(contentsOfFile: server.data + "/ssh_host_ed25519_key.pub", encoding: .utf8)
        #expect(keyLine.map { published.hasPrefix($0) } == true)
    }

    @Test func plaintextIsNeverStored() throws {
        let server = try ServerFixture()
        _ = try server.directory.write(Array("INSERT INTO patient VALUES (1, 'Durand');\n".utf8), to: "dump.sql")
        let result = try server.sftp("oldvendor", ["put dump.sql /outbox/newvendor/"])
        #expect(result.status != 0)
        #expect(server.entries("blobs").isEmpty && server.entries("staging").isEmpty)
        #expect(try server.sftp("newvendor", ["ls /inbox"]).output.trimmingCharacters(in: .whitespacesAndNewlines) == "sftp> ls /inbox")
        #expect(server.log().contains("upload rejected: it is not a sealdrop envelope"))
    }

    @Test func uploadsMustBeSealedByTheLoggedInVendorForTheOutboxVendor() throws {
        let server = try ServerFixture()
        let forOld = try server.seal(Fixtures.bytes(1000), from: "oldvendor", to: "newvendor", name: "a")
        let forStranger = try server.seal(Fixtures.bytes(1000), from: "oldvendor", to: "stranger", name: "b")
        let byStranger = try server.sftp("stranger", ["put \(forOld) /outbox/newvendor/"])
        #expect(byStranger.status != 0, "someone else's envelope")
        let wrongOutbox = try server.sftp("oldvendor", ["put \(forStranger) /outbox/newvendor/"])
        #expect(wrongOutbox.status != 0, "an envelope for stranger put in newvendor's outbox")
        let toSelf = try server.sftp("oldvendor", ["put \(forOld) /outbox/oldvendor/"])
        #expect(toSelf.status != 0, "no outbox for oneself")
        #expect(try server.sftp("oldvendor", ["put \(forOld) /outbox/newvendor/"]).status == 0)
        // The same envelope again (a sender whose reply was lost) is "already published"...
        #expect(try server.sftp("oldvendor", ["put \(forOld) /outbox/newvendor/"]).status == 0, "an identical retry")
        // ...but another file under a used transfer id is not: here one ciphertext byte changed, which
        // format v2's signed trailer refuses first (SessionTests check the replay rule itself).
        var altered = try server.directory.read(forOld)
        altered[altered.count - 1] ^= 1
        let replayed = try server.directory.write(altered, to: "replayed.sealdrop")
        let replay = try server.sftp("oldvendor", ["put \(replayed) /outbox/newvendor/"])
        #expect(replay.status != 0, "another envelope under the same id")
        #expect(server.entries("blobs").count == 1)
        #expect(server.entries("staging").isEmpty)
        let log = server.log()
        #expect(log.contains("it was not sealed by you (stranger)"))
        #expect(log.contains("sealed for another vendor than newvendor"))
        #expect(log.contains("its trailer signature does not verify"))
    }

    @Test func nobodySeesOrGuessesAnotherVendorsTransfers() throws {
        let server = try ServerFixture()
        let envelope = try server.seal(Fixtures.bytes(1000))
        #expect(try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        let id = try #require(
            server.entries("blobs").isEmpty
                ? nil
                : try server.sftp("oldvendor", ["ls /sent"]).output
                    .split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasSuffix(".sealdrop") }.map { String($0.dropLast(9)) })
        for command in [
            "get /inbox/\(id).sealdrop", "get /inbox/../inbox/\(id).sealdrop", "get /sent/\(id).sealdrop", "get ../../etc/passwd",
            "get /outbox/newvendor/x", "ls /outbox/newvendor", "rm /sent/\(id).sealdrop", "rename /inbox /x", "mkdir /inbox/x",
            "symlink /inbox /inbox/l", "get /directory/../../data/metadata.sqlite",
        ] {
            let result = try server.sftp("stranger", [command])
            #expect(result.status != 0 || !result.output.contains(id), "stranger: \(command)")
        }
        #expect(!(try server.sftp("stranger", ["ls -l /inbox", "ls -l /sent"])).output.contains(id))
        #expect(server.entries("blobs").count == 1, "still waiting for newvendor")
        #expect(!FileManager.default.fileExists(atPath: server.directory.file("passwd")))
    }

    @Test func anUnsignedKeyProbeIsNotRecordedAsALogin() throws {
        let server = try ServerFixture()
        // Offer newvendor's public key without its private key: OpenSSH probes, then gives up.
        let probe = try server.sftp("newvendor", identity: "newvendor.pub", ["ls /"])
        #expect(probe.status != 0)
        _ = server.log()
        let store = try SQLiteTransferStore(path: server.data + "/metadata.sqlite")
        #expect(try store.events().filter { $0.kind == .loginAccepted }.isEmpty)
    }

    @Test func silentConnectionsTimeOutAndCannotLockOthersOut() throws {
        let server = try ServerFixture(settings: ["login-timeout = 2s", "logins-in-progress-per-source = 4"])
        var sockets = [Int32]()
        for _ in 0..<4 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(server.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(connected == 0)
            sockets.append(fd)
        }
        defer { sockets.forEach { close($0) } }
        usleep(300_000)
        #expect(try server.sftp("newvendor", ["ls /"]).status != 0, "four silent connections hold this address's login slots")
        Thread.sleep(forTimeInterval: 4)
        let after = try server.sftp("newvendor", ["ls /"])
        #expect(after.status == 0, "the silent ones timed out: \(after.standardError)")
    }

    @Test func onlyPublicKeysOfCurrentCertificatesLogIn() throws {
        let server = try ServerFixture()
        let ssh = Subprocess.which("ssh") ?? "/usr/bin/ssh"
        let password = try Subprocess.run(
            ssh,
            server.sshOptions("newvendor", portFlag: "-p") + [
                "-o", "PreferredAuthentications=password,keyboard-interactive", "-s", "newvendor@127.0.0.1", "sftp",
            ])
        #expect(password.status == 255)
        #expect(password.standardError.contains("Permission denied (publickey)"), "\(password.standardError)")
        #expect(try server.sftp("newvendor", identity: "stranger", ["ls /"]).status != 0, "a key certified for another name")
        #expect(try server.sftp("formervendor", ["ls /"]).status != 0, "a revoked certificate")
        #expect(try server.sftp("nobody", identity: "newvendor", ["ls /"]).status != 0, "an unknown name")
        #expect(try server.sftp("dropbox", ["ls /"]).status != 0, "a server certificate is not a vendor")
        let shell = try Subprocess.run(ssh, server.sshOptions("newvendor", portFlag: "-p") + ["newvendor@127.0.0.1", "id"])
        #expect(shell.status != 0, "no shell or exec")
        #expect(shell.output.isEmpty)
        let log = server.log()
        #expect(log.contains("login refused for formervendor"))
        #expect(log.contains("login refused for nobody"))
    }
}
