import Foundation
import Testing
import TestSupport

/// Every mainstream SFTP client, with its default settings, against the
/// real server: log in, list, upload (published once, no retry recorded as
/// a replay), download once (and a second time refused), revoke.
@Suite(.serialized) struct InteropMatrixTests {
    @Test(arguments: InteropClient.allCases)
    func aVendorsOwnClientDoesTheWholeRound(_ client: InteropClient) throws {
        if let reason = client.unavailable {
            Issue.record("\(client) cannot run: \(reason)")
            return
        }
        let server = try ServerFixture()
        let plaintext = Fixtures.bytes(3_000_000, seed: 21)
        let envelope = try server.seal(plaintext, name: "mine")

        // Upload with the client under test: success reported, published once.
        let upload = try client.upload(server, "oldvendor", envelope, to: "/outbox/newvendor/\(envelope)")
        #expect(upload.status == 0, "\(client) upload: \(upload.standardError)")
        let id = try #require(try sentIDs(server).first, "\(client) published nothing")
        #expect(try sentIDs(server) == [id])

        // Two more transfers, so the inbox lists several.
        var others = [String]()
        for index in 0..<2 {
            let other = try server.seal(Fixtures.bytes(1000 + index), name: "other\(index)")
            #expect(try server.sftp("oldvendor", ["put \(other) /outbox/newvendor/"]).status == 0)
            others = try sentIDs(server).filter { $0 != id }
        }
        #expect(others.count == 2)

        let root = try client.list(server, "newvendor", "/")
        #expect(root.status == 0, "\(client) ls /: \(root.standardError)")
        for folder in ["inbox", "outbox", "sent", "directory", "receipts"] { #expect(root.output.contains(folder), "\(client) ls / lacks \(folder)") }
        let inbox = try client.list(server, "newvendor", "/inbox")
        #expect(inbox.status == 0, "\(client) ls /inbox: \(inbox.standardError)")
        for transfer in [id] + others { #expect(inbox.output.contains(transfer), "\(client) ls /inbox lacks \(transfer)") }
        let directory = try client.list(server, "newvendor", "/directory")
        #expect(directory.status == 0, "\(client) ls /directory: \(directory.standardError)")
        #expect(directory.output.contains("ca.pem"), "\(client) ls /directory: \(directory.output)")

        // Download once, intact, and open it.
        let download = try client.download(server, "newvendor", "/inbox/\(id).sealdrop", to: "received.sealdrop")
        #expect(download.status == 0, "\(client) get: \(download.standardError)")
        #expect(try server.directory.read("received.sealdrop") == (try server.directory.read(envelope)), "\(client) downloaded other bytes")
        let opened = try server.sealdrop(["open", "received.sealdrop", "-o", "received.plain", "--identity", "newvendor", "--from", "oldvendor"])
        #expect(opened.status == 0, "\(client): \(opened.standardError)")
        #expect(try server.directory.read("received.plain") == plaintext)

        let again = try client.download(server, "newvendor", "/inbox/\(id).sealdrop", to: "again.sealdrop")
        #expect(again.status != 0, "\(client): a second download fails")
        #expect(((try? server.directory.read("again.sealdrop")) ?? []).isEmpty, "\(client): nothing is served the second time")

        // Revoke one that was not downloaded.
        let revoke = try client.remove(server, "oldvendor", "/sent/\(others[0]).sealdrop")
        #expect(revoke.status == 0, "\(client) rm: \(revoke.standardError)")
        let after = try server.sftp("newvendor", ["ls /inbox"])
        #expect(!after.output.contains(others[0]), "\(client): the revoked transfer is gone from the inbox")
        #expect(after.output.contains(others[1]))

        let events = try logKinds(server)
        #expect(events.filter { $0 == "upload-published" }.count == 3, "\(client): \(events)")
        #expect(!events.contains("upload-rejected"), "\(client): an upload was recorded as refused (a retry seen as a replay?)")
        #expect(events.contains("delivered") && events.contains("revoked"), "\(client): \(events)")
    }

    @Test func anUploadUnderATemporaryNameIsRenamedAndStaysPrivate() throws {
        let server = try ServerFixture()
        let envelope = try server.seal(Fixtures.bytes(50_000, seed: 5), name: "temp")
        let renamed = try server.sftp(
            "oldvendor",
            [
                "put \(envelope) /outbox/newvendor/upload.part", "rename /outbox/newvendor/upload.part /outbox/newvendor/final.sealdrop",
                "ls -l /outbox/newvendor/final.sealdrop",
            ])
        #expect(renamed.status == 0, "\(renamed.standardError)")
        #expect(renamed.output.contains("final.sealdrop"))
        #expect(try sentIDs(server).count == 1, "published once")
        // Another session, and out of the folder: nothing to see, nothing to rename.
        let later = try server.sftp("oldvendor", ["-ls /outbox/newvendor/final.sealdrop", "-rename /outbox/newvendor/final.sealdrop /sent/x"])
        let shown = later.output.split(separator: "\n").filter { !$0.hasPrefix("sftp>") }
        #expect(!shown.contains { $0.contains("final.sealdrop") }, "\(later.output)")
        #expect(later.standardError.contains("No such file"), "\(later.standardError)")
        let moved = try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/again.part", "rename /outbox/newvendor/again.part /inbox/x"])
        #expect(moved.status != 0, "a rename out of the outbox folder is refused")
    }

    @Test func interactiveSFTPOnATerminalUploadsAndDownloads() throws {
        guard let script = Subprocess.which("script"), let sftp = Subprocess.which("sftp") else {
            Issue.record("script(1) or sftp is not installed")
            return
        }
        let server = try ServerFixture()
        let envelope = try server.seal(Fixtures.bytes(2_000_000, seed: 8), name: "typed")
        // script(1) gives sftp a pseudo-terminal: its interactive mode, progress meter included.
        func typed(_ user: String, _ lines: [String]) throws -> ProcessResult {
            let command = ([sftp] + server.sshOptions(user) + ["\(user)@127.0.0.1"]).joined(separator: " ")
            return try Subprocess.run(
                script, ["-qec", command, "/dev/null"], input: Array((lines + ["bye"]).joined(separator: "\n").utf8 + [10]),
                directory: server.directory.path)
        }
        let upload = try typed("oldvendor", ["put \(envelope) /outbox/newvendor/"])
        #expect(upload.status == 0, "\(upload.output)")
        let id = try #require(try sentIDs(server).first)
        let download = try typed("newvendor", ["get /inbox/\(id).sealdrop typed-received.sealdrop"])
        #expect(download.status == 0, "\(download.output)")
        #expect(try server.directory.read("typed-received.sealdrop") == (try server.directory.read(envelope)))
    }

    /// Transfer ids in oldvendor's /sent, as OpenSSH's sftp lists them.
    private func sentIDs(_ server: ServerFixture) throws -> [String] {
        try server.sftp("oldvendor", ["ls -1 /sent"]).output.split(separator: "\n").compactMap { line in
            let name = line.split(separator: "/").last.map(String.init) ?? ""
            return name.hasSuffix(".sealdrop") ? String(name.dropLast(".sealdrop".count)) : nil
        }.sorted()
    }

    /// The kinds of the transparency log's entries, in order.
    private func logKinds(_ server: ServerFixture) throws -> [String] {
        // The export is checked against a certificate for the receipt key.
        let issued = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server",
        ])
        guard issued.status == 0 else { throw FixtureError.setup(issued.standardError) }
        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.json", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
        guard exported.status == 0 else { throw FixtureError.setup(exported.standardError) }
        let bundle = try JSONSerialization.jsonObject(with: Data(try server.directory.read("log.json"))) as? [String: Any]
        return (bundle?["entries"] as? [String] ?? []).compactMap { entry in
            guard let bytes = Data(base64Encoded: entry), let fields = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any] else { return nil }
            return fields["kind"] as? String
        }
    }
}

/// rclone downloads a file over 250 MiB (its `--multi-thread-cutoff`) on
/// four connections at once by default. The drop box serves one download
/// claim at a time, so the default run must fail without delivering
/// anything (no byte the client threw away may count), and the documented
/// flag `--multi-thread-streams 0` downloads it intact, once.
@Suite(.serialized) struct InteropLargeDownloadTests {
    /// Over rclone's 250 MiB cutoff (262,144,000 bytes); 300 MiB was the goal,
    /// 260 MiB keeps the suite's time down with the same code path.
    static let size = 260 * 1024 * 1024

    @Test func rclonesMultiThreadDownloadNeverLosesTheTransfer() throws {
        guard InteropClient.rclone.unavailable == nil else {
            Issue.record("rclone is not installed (ops/test installs it)")
            return
        }
        let server = try ServerFixture()
        let plaintext = Fixtures.bytes(Self.size, seed: 31)
        let envelope = try server.seal(plaintext, name: "large")
        #expect(try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        let listing = try server.sftp("oldvendor", ["ls -1 /sent"]).output
        let id = try #require(listing.split(separator: "\n").compactMap { $0.split(separator: "/").last }.first { $0.hasSuffix(".sealdrop") })

        let parallel = try InteropClient.rclone.download(server, "newvendor", "/inbox/\(id)", to: "parallel.sealdrop")
        let sent = try server.sftp("oldvendor", ["ls -l /sent"]).output
        if parallel.status == 0 {
            // Served whole over several connections: intact, and delivered once.
            #expect(try server.directory.read("parallel.sealdrop") == (try server.directory.read(envelope)))
            #expect(sent.contains("delivered"))
        } else {
            #expect(!sent.contains("delivered"), "a failed parallel download delivered the transfer: \(sent)")
            let single = try InteropClient.rclone.download(server, "newvendor", "/inbox/\(id)", to: "single.sealdrop", extra: ["--multi-thread-streams", "0"])
            #expect(single.status == 0, "\(single.standardError)")
            #expect(try server.directory.read("single.sealdrop") == (try server.directory.read(envelope)))
            #expect(try server.sftp("oldvendor", ["ls -l /sent"]).output.contains("delivered"))
        }
        let again = try InteropClient.rclone.download(server, "newvendor", "/inbox/\(id)", to: "again.sealdrop", extra: ["--multi-thread-streams", "0"])
        #expect(again.status != 0, "a second download is refused")
    }
}
