import Foundation
import SealdropFormat
import SealdropLog
import SealdropServer
import SealdropStore
import Testing
import TestSupport

/// `sealdropd backup` and `restore`: a restore from a backup taken before a
/// transfer ended never makes it available again, whether the record of
/// the end comes from the current database, a log export, or the file
/// being gone; and the log goes on from where it was.
@Suite struct BackupRestoreTests {
    /// A drop box run the way sshd runs it (`sftp -D` with the subsystem).
    final class Box {
        let directory: TemporaryDirectory
        var data: String { directory.file("data") }
        var trust: String { directory.file("ca/trust") }

        init() throws {
            directory = try TemporaryDirectory()
            #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        }

        func sftp(_ vendor: String, _ commands: [String]) throws -> ProcessResult {
            let batch = try directory.write(Array((commands.joined(separator: "\n") + "\n").utf8), to: "batch-\(vendor)")
            let server = "\(Fixtures.sealdropd) sftp-subsystem --vendor \(vendor) --data \(data) --trust \(trust)"
            return try Subprocess.run(Subprocess.which("sftp")!, ["-D", server, "-b", batch], directory: directory.path)
        }

        func sealdropd(_ arguments: [String]) throws -> ProcessResult {
            try Subprocess.run(Fixtures.sealdropd, arguments + ["--data", data, "--trust", trust], directory: directory.path)
        }

        /// Seals and uploads a file for newvendor; returns its transfer.
        func send(seed: UInt64) throws -> Transfer {
            let name = "x\(seed)"
            _ = try directory.write(Fixtures.bytes(50_000, seed: seed), to: name + ".plain")
            let sealed = try Subprocess.run(
                Fixtures.sealdrop, ["seal", name + ".plain", "-o", name + ".sealdrop", "--to", "newvendor", "--identity", "oldvendor"],
                environment: ["SEALDROP_TRUST": trust], directory: directory.path)
            #expect(sealed.status == 0, "\(sealed.standardError)")
            #expect(try sftp("oldvendor", ["put \(name).sealdrop /outbox/newvendor/"]).status == 0)
            return try #require(try store().sent(by: "oldvendor").first)
        }

        func store() throws -> SQLiteTransferStore { try SQLiteTransferStore(path: data + "/metadata.sqlite") }

        func download(_ id: String, to name: String) throws -> ProcessResult {
            try sftp("newvendor", ["get /inbox/\(id).sealdrop \(name)"])
        }

        func backup() throws {
            let result = try sealdropd(["backup", "--to", directory.file("backup.sqlite")])
            #expect(result.status == 0, "\(result.standardError)")
        }

        func restore(_ extra: [String] = []) throws -> ProcessResult {
            try sealdropd(["restore", "--from", directory.file("backup.sqlite")] + extra)
        }

        func blobPath(_ transfer: Transfer) -> String { data + "/blobs/" + transfer.blob }

        /// The second download after a restore: refused, nothing written, the inbox empty.
        func expectNoSecondDownload(_ transfer: Transfer, state: TransferState) throws {
            let again = try download(transfer.id, to: "again.sealdrop")
            #expect(again.status != 0)
            #expect(!FileManager.default.fileExists(atPath: directory.file("again.sealdrop")))
            #expect(try store().transfer(id: transfer.id)?.state == state)
            #expect(!FileManager.default.fileExists(atPath: blobPath(transfer)), "the blob is gone")
            #expect(try store().inbox(recipient: "newvendor").isEmpty)
        }
    }

    @Test func aDeliveredTransferStaysDeliveredAndTheLogGoesOn() throws {
        let box = try Box()
        let transfer = try box.send(seed: 1)
        try box.backup()
        #expect(try box.download(transfer.id, to: "got.sealdrop").status == 0)
        let before = try box.store().logEntries()

        let restored = try box.restore()
        #expect(restored.status == 0, "\(restored.standardError)")
        #expect(restored.output.contains("4 appended after them"), "\(restored.output)")
        try box.expectNoSecondDownload(transfer, state: .delivered)
        // The entries written after the backup are back, byte for byte, and
        // the restored drop box appends after them.
        let after = try box.store().logEntries()
        #expect(Array(after.prefix(before.count)) == before)
        #expect(try box.directory.entries().contains("backup.sqlite"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.data).contains { $0.hasPrefix("metadata.sqlite.replaced-") })
    }

    /// The database is lost, but its file went with the delivery: the
    /// head kept at the delivery says entries are lost, so the restore
    /// refuses; told to go on, it ends the transfer because its blob is gone.
    @Test func aLostDatabaseAndAMissingFileStillEndTheTransfer() throws {
        let box = try Box()
        let transfer = try box.send(seed: 2)
        try box.backup()
        #expect(try box.download(transfer.id, to: "got.sealdrop").status == 0)
        for suffix in ["", "-wal", "-shm"] { unlink(box.data + "/metadata.sqlite" + suffix) }
        let refused = try box.restore()
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("handed out a log of"), "\(refused.standardError)")
        let restored = try box.restore(["--end-pending"])
        #expect(restored.status == 0, "\(restored.standardError)")
        #expect(restored.output.contains("its file is gone"), "\(restored.output)")
        try box.expectNoSecondDownload(transfer, state: .expired)
    }

    /// A revoked transfer whose blob came back (say, from a file-system
    /// snapshot): the log export says it was revoked, so it stays ended.
    @Test func aRevokedTransferWithItsFileBackStaysRevoked() throws {
        let box = try Box()
        let transfer = try box.send(seed: 3)
        try box.backup()
        let blob = try Data(contentsOf: URL(fileURLWithPath: box.blobPath(transfer)))
        #expect(try box.sftp("oldvendor", ["rm /sent/\(transfer.id).sealdrop"]).status == 0)
        #expect(try box.store().transfer(id: transfer.id)?.state == .revoked)
        try blob.write(to: URL(fileURLWithPath: box.blobPath(transfer)))

        let restored = try box.restore()
        #expect(restored.status == 0, "\(restored.standardError)")
        try box.expectNoSecondDownload(transfer, state: .revoked)
    }

    /// An expired transfer, its file back and its database lost: only the
    /// log export tells. Without it, the head the drop box handed out says
    /// entries are missing, and the restore refuses rather than guess.
    @Test func anExpiredTransferNeedsTheLogWhenTheDatabaseIsLost() throws {
        let box = try Box()
        let transfer = try box.send(seed: 4)
        // Certify the receipt key (made at the first session) so tree heads
        // are handed out, and kept.
        let certified = try Subprocess.run(
            Fixtures.sealdrop,
            ["ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--role", "server", "--pubkey", box.data + "/receipt_ed25519_key.pub"],
            directory: box.directory.path)
        #expect(certified.status == 0, "\(certified.standardError)")
        try box.backup()
        let blob = try Data(contentsOf: URL(fileURLWithPath: box.blobPath(transfer)))
        do {
            // The reaper, fifteen days on (the longest expiry is fourteen).
            let dropBox = try DropBox(configuration: DropBoxConfiguration(dataDirectory: box.data, trustDirectory: box.trust), startingUp: false)
            #expect(dropBox.reap(now: Date().addingTimeInterval(15 * 86_400)) == 1)
        }
        #expect(try box.sftp("newvendor", ["get /receipts/head head.json"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: box.data + "/" + DropBox.logHeadFile))
        #expect(try box.sealdropd(["log", "export", "-o", box.directory.file("export.json")]).status == 0)
        for suffix in ["", "-wal", "-shm"] { unlink(box.data + "/metadata.sqlite" + suffix) }
        try blob.write(to: URL(fileURLWithPath: box.blobPath(transfer)))

        let refused = try box.restore()
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("handed out a log of"), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: box.data + "/metadata.sqlite"), "nothing restored")

        let restored = try box.restore(["--log", box.directory.file("export.json")])
        #expect(restored.status == 0, "\(restored.standardError)")
        try box.expectNoSecondDownload(transfer, state: .expired)
        var exported: [[UInt8]] = []
        try LogExportReader(path: box.directory.file("export.json")).forEachEntry { exported.append($0) }
        let entries = try box.store().logEntries()
        #expect(entries.count >= exported.count)
        #expect(Array(entries.prefix(exported.count)) == exported)
    }

    /// A backup of another drop box does not continue this one's log: refused, nothing changed.
    @Test func aBackupOfAnotherDropBoxIsRefused() throws {
        let box = try Box()
        let other = try Box()
        _ = try box.send(seed: 5)
        _ = try other.send(seed: 6)
        let result = try other.sealdropd(["backup", "--to", box.directory.file("backup.sqlite")])
        #expect(result.status == 0, "\(result.standardError)")
        let before = try box.store().logEntries()
        let refused = try box.restore()
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("does not continue the backup's log"), "\(refused.standardError)")
        #expect(try box.store().logEntries() == before)
        #expect(try !FileManager.default.contentsOfDirectory(atPath: box.data).contains { $0.contains("restoring") || $0.contains("replaced") })
    }

    /// A transfer untouched since the backup stays available, and one
    /// claimed since then (how much went out unknown) ends.
    @Test func decisionsForUntouchedAndClaimedTransfers() throws {
        let transfer = Transfer(
            id: String(repeating: "a", count: 32), sender: "oldvendor", recipient: "newvendor", size: 10, ciphertextSHA256: "",
            uploadedAt: Date(), expiresAt: Date().addingTimeInterval(3600), blob: "b")
        #expect(RestoreDecision.decide(transfer, laterEntries: [], rowIsCurrent: false, entriesLost: false, blobExists: true) == .keep)
        let claim = LogEntry(sequence: 9, time: 0, kind: .claimed, actor: "newvendor", transfer: transfer.id)
        guard case .end = RestoreDecision.decide(transfer, laterEntries: [claim], rowIsCurrent: false, entriesLost: false, blobExists: true) else {
            Issue.record("a transfer claimed after the backup stays available")
            return
        }
        guard case .end = RestoreDecision.decide(transfer, laterEntries: [], rowIsCurrent: false, entriesLost: true, blobExists: true) else {
            Issue.record("a transfer of unknown fate stays available")
            return
        }
    }
}
