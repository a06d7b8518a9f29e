import Foundation
import SealdropLog
import SealdropStore
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

        // At the end of `get FILE; bye` lftp 4.9.2 writes its CLOSE into the
        // pipe to ssh and at once sends ssh SIGTERM; ssh sends a DISCONNECT
        // and exits, often without reading that CLOSE, so it never leaves
        // the client (on the wire in 7 of 16 single gets on a loaded
        // machine). Without it the handle counts as lost and the transfer
        // stays in the inbox (fails safe). A CLOSE that arrives is handled,
        // DISCONNECT behind it or not (`CloseThenDisconnectTests`,
        // `lftpDeliversWhenACommandFollowsTheGet`).
        let closeLost = Comment(rawValue: "lftp 4.9.2 can exit before ssh has sent its last CLOSE")
        try withKnownIssue(closeLost, isIntermittent: true) {
            let again = try client.download(server, "newvendor", "/inbox/\(id).sealdrop", to: "again.sealdrop")
            #expect(again.status != 0, "\(client): a second download fails")
            #expect(((try? server.directory.read("again.sealdrop")) ?? []).isEmpty, "\(client): nothing is served the second time")
        } when: {
            client == .lftp
        }

        // Revoke one that was not downloaded.
        let revoke = try client.remove(server, "oldvendor", "/sent/\(others[0]).sealdrop")
        #expect(revoke.status == 0, "\(client) rm: \(revoke.standardError)")
        let after = try server.sftp("newvendor", ["ls /inbox"])
        #expect(!after.output.contains(others[0]), "\(client): the revoked transfer is gone from the inbox")
        #expect(after.output.contains(others[1]))

        let events = try logKinds(server)
        #expect(events.filter { $0 == "upload-published" }.count == 3, "\(client): \(events)")
        #expect(!events.contains("upload-rejected"), "\(client): an upload was recorded as refused (a retry seen as a replay?)")
        #expect(events.contains("revoked"), "\(client): \(events)")
        withKnownIssue(closeLost, isIntermittent: true) {
            #expect(events.contains("delivered"), "\(client): \(events)")
        } when: {
            client == .lftp
        }
    }

    /// lftp flushes its queued CLOSE before the next request, so with a
    /// command after the `get` the CLOSE always arrives, before the request
    /// whose reply lftp waits for: the transfer is delivered, every time.
    @Test func lftpDeliversWhenACommandFollowsTheGet() throws {
        if let reason = InteropClient.lftp.unavailable {
            Issue.record("lftp cannot run: \(reason)")
            return
        }
        let server = try ServerFixture()
        for round in 0..<3 {
            let envelope = try server.seal(Fixtures.bytes(1_000_000, seed: 60 + UInt64(round)), name: "followed\(round)")
            let before = Set(try sentIDs(server))
            #expect(try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
            let id = try #require(try sentIDs(server).first { !before.contains($0) })
            let download = try InteropClient.lftp.run(server, "newvendor", "get /inbox/\(id).sealdrop -o followed\(round).received; cls -1 /inbox/")
            #expect(download.status == 0, "\(download.standardError)")
            #expect(try server.directory.read("followed\(round).received") == (try server.directory.read(envelope)))
            #expect(try !server.sftp("newvendor", ["ls -1 /inbox"]).output.contains(id), "round \(round): delivered at lftp's CLOSE")
        }
        #expect(try logKinds(server).filter { $0 == "delivered" }.count == 3)
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
    func logKinds(_ server: ServerFixture) throws -> [String] {
        // The export is checked against a certificate for the receipt key.
        let issued = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server",
        ])
        guard issued.status == 0 else { throw FixtureError.setup(issued.standardError) }
        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.json", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
        guard exported.status == 0 else { throw FixtureError.setup(exported.standardError) }
        return try LogExport(bytes: try server.directory.read("log.json")).entries.compactMap { bytes in
            (try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])?["kind"] as? String
        }
    }
}

/// rclone downloads a file over 250 MiB (its `--multi-thread-cutoff`) on
/// four connections at once by default, each reading its own quarter and
/// CLOSEing it. The recipient's claim is shared by those handles and the
/// transfer is delivered when the last one CLOSEs: intact, once.
@Suite(.serialized) struct InteropLargeDownloadTests {
    static let size = 300 * 1024 * 1024

    @Test func rclonesDefaultMultiThreadDownloadIsIntactAndDeliveredOnce() throws {
        guard InteropClient.rclone.unavailable == nil else {
            Issue.record("rclone is not installed (ops/test installs it)")
            return
        }
        let server = try ServerFixture()
        let envelope = try server.seal(Fixtures.bytes(Self.size, seed: 31), name: "large")
        #expect(try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        let listing = try server.sftp("oldvendor", ["ls -1 /sent"]).output
        let id = try #require(listing.split(separator: "\n").compactMap { $0.split(separator: "/").last }.first { $0.hasSuffix(".sealdrop") })

        let parallel = try InteropClient.rclone.download(server, "newvendor", "/inbox/\(id)", to: "parallel.sealdrop", extra: ["-v"])
        #expect(parallel.status == 0, "\(parallel.standardError)")
        #expect(parallel.standardError.contains("Multi-thread Copied"), "rclone took its multi-thread path: \(parallel.standardError)")
        let same = try Subprocess.run("/usr/bin/cmp", ["parallel.sealdrop", envelope], directory: server.directory.path)
        #expect(same.status == 0, "the envelope arrived intact: \(same.output)")
        let opened = try server.sealdrop(["open", "parallel.sealdrop", "-o", "parallel.plain", "--identity", "newvendor", "--from", "oldvendor"])
        #expect(opened.status == 0, "\(opened.standardError)")
        #expect(try Subprocess.run("/usr/bin/cmp", ["parallel.plain", "large.plain"], directory: server.directory.path).status == 0)
        #expect(server.entries("blobs").isEmpty, "deleted at delivery")

        let events = try InteropMatrixTests().logKinds(server)
        #expect(events.filter { $0 == "delivered" }.count == 1, "\(events)")
        #expect(events.filter { $0 == "claimed" }.count >= 2, "several connections shared the claim: \(events)")
        let again = try InteropClient.rclone.download(server, "newvendor", "/inbox/\(id)", to: "again.sealdrop")
        #expect(again.status != 0, "a second download is refused")
        #expect(((try? server.directory.read("again.sealdrop")) ?? []).isEmpty)
    }
}

/// Two connections of one recipient read one transfer, each its own half:
/// both CLOSEd, it is delivered at the second CLOSE; one cut without CLOSE,
/// nothing it was sent counts and the recipient downloads it again.
@Suite(.serialized) struct ParallelDownloadTests {
    func prepare() throws -> (server: ServerFixture, id: String, envelope: [UInt8]) {
        let server = try ServerFixture()
        let name = try server.seal(Fixtures.bytes(600_000, seed: 17), name: "halves")
        #expect(try server.sftp("oldvendor", ["put \(name) /outbox/newvendor/"]).status == 0)
        let listing = try server.sftp("oldvendor", ["ls -1 /sent"]).output
        let file = try #require(listing.split(separator: "\n").compactMap { $0.split(separator: "/").last }.first { $0.hasSuffix(".sealdrop") })
        return (server, String(file.dropLast(".sealdrop".count)), try server.directory.read(name))
    }

    func delivered(_ server: ServerFixture, _ id: String) throws -> Int {
        try SQLiteTransferStore(path: server.data + "/metadata.sqlite").events().filter { $0.transferID == id && $0.kind == .delivered }.count
    }

    @Test func twoConnectionsEachReadingHalfDeliverAtTheLastClose() throws {
        let (server, id, envelope) = try prepare()
        let half = envelope.count / 2
        let first = try RawSFTPClient(server, user: "newvendor")
        let second = try RawSFTPClient(server, user: "newvendor")
        defer {
            first.kill()
            second.kill()
        }
        let front = try first.openForReading("/inbox/\(id).sealdrop")
        let back = try second.openForReading("/inbox/\(id).sealdrop")
        #expect(try first.read(front, limit: half) == Array(envelope[..<half]))
        #expect(try second.read(back, from: half) == Array(envelope[half...]))
        #expect(try second.exchange(.close(id: 50, handle: back)) == .status(id: 50, code: .ok, message: ""), "the other half is still open")
        #expect(server.entries("blobs").count == 1)
        #expect(try first.exchange(.close(id: 51, handle: front)) == .status(id: 51, code: .ok, message: "delivered"))
        #expect(server.entries("blobs").isEmpty)
        // Foundation's Process can miss a child's exit while another is
        // running: no tool runs while these two are alive.
        first.kill()
        second.kill()
        #expect(try delivered(server, id) == 1)
        #expect(try server.sftp("newvendor", ["get /inbox/\(id).sealdrop again.sealdrop"]).status != 0)
    }

    @Test(arguments: [false, true])
    func aConnectionCutWithoutCloseCountsNothing(_ everyByte: Bool) throws {
        let (server, id, envelope) = try prepare()
        let half = envelope.count / 2
        // Started first, killed first: Foundation's Process can miss the
        // exit of a child started after one that is still running.
        let second = try RawSFTPClient(server, user: "newvendor")
        let first = try RawSFTPClient(server, user: "newvendor")
        let front = try first.openForReading("/inbox/\(id).sealdrop")
        let back = try second.openForReading("/inbox/\(id).sealdrop")
        #expect(try first.read(front, limit: half) == Array(envelope[..<half]))
        // The cut connection was sent its half, or (everyByte) the whole file.
        #expect(try second.read(back, from: everyByte ? 0 : half).count == (everyByte ? envelope.count : envelope.count - half))
        second.kill()
        #expect(try first.exchange(.close(id: 52, handle: front)) == .status(id: 52, code: .ok, message: ""))
        first.kill()
        // The server notices the cut when the session's channel closes.
        let store = try SQLiteTransferStore(path: server.data + "/metadata.sqlite")
        let deadline = Date().addingTimeInterval(10)
        while try store.transfer(id: id)?.state != .available, Date() < deadline { usleep(20_000) }
        #expect(try store.transfer(id: id)?.state == .available, "back to the recipient, nothing delivered")
        #expect(try delivered(server, id) == 0)
        #expect(server.entries("blobs").count == 1)
        #expect(try store.events().contains { $0.transferID == id && $0.kind == .released && $0.detail.contains("do not count") })

        let again = try server.sftp("newvendor", ["get /inbox/\(id).sealdrop again.sealdrop"])
        #expect(again.status == 0, "\(again.standardError)")
        #expect(try server.directory.read("again.sealdrop") == envelope)
        #expect(try delivered(server, id) == 1)
        #expect(server.entries("blobs").isEmpty)
    }
}

/// sshfs (FUSE) mounts the vendor's tree: list it, copy an envelope into
/// an outbox, copy the transfer out of the inbox once. Needs `/dev/fuse`
/// (a kernel or container without FUSE cannot mount at all).
@Suite(.serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/fuse"), "FUSE (/dev/fuse) is not available"))
struct SSHFSInteropTests {
    /// Mounts `user`'s tree on `folder`. sshfs leaves a daemon behind: its
    /// output goes to a file, and every descriptor above 2 is closed first,
    /// or the daemon would hold what Foundation's Process watches for the
    /// child's exit (a pipe, a socket) and the wait would never end.
    func mount(_ server: ServerFixture, _ user: String, on folder: String) throws -> ProcessResult {
        try FileManager.default.createDirectory(atPath: server.directory.file(folder), withIntermediateDirectories: true)
        let options = [
            "IdentityFile=\(server.directory.file(user))", "IdentitiesOnly=yes", "BatchMode=yes", "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null", "ServerAliveInterval=5", "ServerAliveCountMax=3",
        ]
        return try Subprocess.run(
            "/bin/bash",
            [
                "-c",
                "for fd in $(ls /proc/$$/fd); do [ $fd -gt 2 ] && eval \"exec $fd>&-\"; done; "
                    + "exec \(Subprocess.which("sshfs") ?? "sshfs") -p \(server.port) -o \(options.joined(separator: ",")) \(user)@127.0.0.1:/ \(folder) >\(folder).log 2>&1 </dev/null",
            ],
            directory: server.directory.path)
    }

    /// A command on the mount, bounded: an operation on a FUSE mount whose
    /// server went wrong can block for ever, and must fail the test instead.
    func onMount(_ server: ServerFixture, _ command: String, _ arguments: [String]) throws -> ProcessResult {
        try Subprocess.run("/usr/bin/timeout", ["120", command] + arguments, directory: server.directory.path)
    }

    /// The names in a folder of the mount, read by a bounded `ls`.
    func names(_ server: ServerFixture, _ folder: String) throws -> [String] {
        try onMount(server, "/bin/ls", ["-1", "-A", folder]).output.split(separator: "\n").map(String.init).sorted()
    }

    func unmount(_ server: ServerFixture, _ folder: String) {
        _ = try? Subprocess.run("/usr/bin/timeout", ["60", "/bin/fusermount3", "-u", "-z", server.directory.file(folder)])
    }

    @Test func sshfsMountsListsUploadsAndDownloadsOnce() throws {
        guard Subprocess.which("sshfs") != nil else {
            Issue.record("sshfs is not installed (ops/test installs it)")
            return
        }
        let server = try ServerFixture()
        let plaintext = Fixtures.bytes(3_000_000, seed: 23)
        let envelope = try server.seal(plaintext, name: "mounted")

        let up = try mount(server, "oldvendor", on: "up")
        defer { unmount(server, "up") }
        try #require(up.status == 0, "sshfs mount: \((try? server.directory.read("up.log")).map { String(decoding: $0, as: UTF8.self) } ?? "")")
        let root = try names(server, "up")
        #expect(root == ["directory", "inbox", "outbox", "receipts", "sent"])
        let copied = try onMount(server, "/bin/cp", [envelope, "up/outbox/newvendor/"])
        #expect(copied.status == 0, "cp into the outbox: \(copied.standardError)")
        unmount(server, "up")
        let sent = try server.sftp("oldvendor", ["ls -1 /sent"]).output.split(separator: "\n").compactMap { $0.split(separator: "/").last }
        let file = try #require(sent.first { $0.hasSuffix(".sealdrop") }, "nothing was published")
        #expect(sent.filter { $0.hasSuffix(".sealdrop") }.count == 1)

        let down = try mount(server, "newvendor", on: "down")
        defer { unmount(server, "down") }
        try #require(down.status == 0, "sshfs mount: \((try? server.directory.read("down.log")).map { String(decoding: $0, as: UTF8.self) } ?? "")")
        #expect(try names(server, "down/inbox") == [String(file)])
        let received = try onMount(server, "/bin/cp", ["down/inbox/\(file)", "received.sealdrop"])
        #expect(received.status == 0, "cp out of the inbox: \(received.standardError)")
        #expect(try Subprocess.run("/usr/bin/cmp", ["received.sealdrop", envelope], directory: server.directory.path).status == 0)
        let opened = try server.sealdrop(["open", "received.sealdrop", "-o", "received.plain", "--identity", "newvendor", "--from", "oldvendor"])
        #expect(opened.status == 0, "\(opened.standardError)")
        #expect(try server.directory.read("received.plain") == plaintext)
        #expect(server.entries("blobs").isEmpty, "delivered at sshfs's CLOSE")
        let again = try onMount(server, "/bin/cp", ["down/inbox/\(file)", "again.sealdrop"])
        #expect(again.status != 0, "a second copy is refused")
        unmount(server, "down")

        let events = try InteropMatrixTests().logKinds(server)
        #expect(events.filter { $0 == "upload-published" }.count == 1, "\(events)")
        #expect(!events.contains("upload-rejected"), "\(events)")
        #expect(events.filter { $0 == "delivered" }.count == 1, "\(events)")
    }
}
