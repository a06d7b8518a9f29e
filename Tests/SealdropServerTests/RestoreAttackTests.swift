import Foundation
import SealdropFormat
import SealdropLog
import SealdropServer
import SealdropStore
import Testing
import TestSupport

/// `sealdropd restore` attacked with real files: a cut or edited log
/// export, a forged tree head, another drop box's backup, a delivery no
/// client asked a head for, and a server still running. None may make an
/// ended transfer available again or put into the log what the drop box
/// did not record; every refusal leaves the data directory as it was.
@Suite struct RestoreAttackTests {
    typealias Box = BackupRestoreTests.Box

    /// Certifies the receipt key (made at the first session), so exports can be signed.
    static func certifyReceiptKey(_ box: Box) throws {
        let certified = try Subprocess.run(
            Fixtures.sealdrop,
            ["ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--role", "server", "--pubkey", box.data + "/receipt_ed25519_key.pub"],
            directory: box.directory.path)
        #expect(certified.status == 0, "\(certified.standardError)")
    }

    /// Sends one more transfer and returns it (the one not sent before).
    static func sendNew(_ box: Box, seed: UInt64) throws -> Transfer {
        let opened = FileManager.default.fileExists(atPath: box.data + "/metadata.sqlite")
        let before = Set(opened ? try box.store().sent(by: "oldvendor").map(\.id) : [])
        _ = try box.send(seed: seed)
        return try #require(try box.store().sent(by: "oldvendor").first { !before.contains($0.id) })
    }

    static func export(_ box: Box, _ name: String) throws -> String {
        let path = box.directory.file(name)
        let result = try box.sealdropd(["log", "export", "-o", path])
        #expect(result.status == 0, "\(result.standardError)")
        return path
    }

    /// Where in `entries` the first entry of `kind` for `transfer` is.
    static func index(of kind: LogEntry.Kind, _ transfer: Transfer, in entries: [[UInt8]]) throws -> Int? {
        for (index, bytes) in entries.enumerated() {
            let entry = try LogEntry(decoding: bytes)
            if entry.kind == kind, entry.transfer == transfer.id { return index }
        }
        return nil
    }

    static func loseDatabase(_ box: Box) {
        for suffix in ["", "-wal", "-shm"] { unlink(box.data + "/metadata.sqlite" + suffix) }
    }

    static func keptHeadPath(_ box: Box) -> String { box.data + "/" + DropBox.logHeadFile }

    /// The restore refused and left no database, no half-made one, nothing set aside.
    static func expectRefusedUnchanged(_ result: ProcessResult, _ message: String, _ box: Box, databaseExisted: Bool = false) throws {
        #expect(result.status == 1)
        #expect(result.standardError.contains(message), "\(result.standardError)")
        #expect(FileManager.default.fileExists(atPath: box.data + "/metadata.sqlite") == databaseExisted)
        #expect(try !FileManager.default.contentsOfDirectory(atPath: box.data).contains { $0.contains("restoring") || $0.contains("replaced") })
    }

    /// R1: an export cut short, with lines added, or with one edited, is
    /// refused against its own signed head (the kept head lost with the
    /// database); the whole export then restores, its ends kept.
    @Test func anExportThatDoesNotMatchItsOwnHeadIsRefused() throws {
        let box = try Box()
        let delivered = try Self.sendNew(box, seed: 21)
        let revoked = try Self.sendNew(box, seed: 22)
        try Self.certifyReceiptKey(box)
        try box.backup()
        let blobs = try [delivered, revoked].map { try Data(contentsOf: URL(fileURLWithPath: box.blobPath($0))) }
        #expect(try box.download(delivered.id, to: "got.sealdrop").status == 0)
        #expect(try box.sftp("oldvendor", ["rm /sent/\(revoked.id).sealdrop"]).status == 0)
        let whole = try Self.export(box, "whole.jsonl")
        Self.loseDatabase(box)
        unlink(Self.keptHeadPath(box))
        for (transfer, blob) in zip([delivered, revoked], blobs) { try blob.write(to: URL(fileURLWithPath: box.blobPath(transfer))) }

        let lines = String(decoding: try box.directory.read("whole.jsonl"), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.count > 10)
        let cut = try box.directory.write(Array((lines.prefix(lines.count / 2).joined(separator: "\n") + "\n").utf8), to: "cut.jsonl")
        let forged = LogEntry(
            sequence: Int64(lines.count), time: Int64(Date().timeIntervalSince1970 * 1000), kind: .delivered, actor: "newvendor",
            transfer: delivered.id)
        let added = try box.directory.write(
            Array((lines.joined(separator: "\n") + "\n" + String(decoding: forged.encoded(), as: UTF8.self) + "\n").utf8), to: "added.jsonl")
        var edited = lines
        edited[1] = edited[1].replacingOccurrences(of: "oldvendor", with: "newvendor")
        #expect(edited[1] != lines[1])
        let editedPath = try box.directory.write(Array((edited.joined(separator: "\n") + "\n").utf8), to: "edited.jsonl")
        var dropped = lines
        dropped.remove(at: lines.count - 3)
        let droppedPath = try box.directory.write(Array((dropped.joined(separator: "\n") + "\n").utf8), to: "dropped.jsonl")

        for bad in [cut, added, editedPath, droppedPath] {
            try Self.expectRefusedUnchanged(try box.restore(["--log", bad]), "does not match its own signed tree head", box)
        }
        #expect(FileManager.default.fileExists(atPath: box.blobPath(delivered)), "a refusal deletes nothing")

        let restored = try box.restore(["--log", whole])
        #expect(restored.status == 0, "\(restored.standardError)")
        try box.expectNoSecondDownload(delivered, state: .delivered)
        #expect(try box.store().transfer(id: revoked.id)?.state == .revoked)
        #expect(!FileManager.default.fileExists(atPath: box.blobPath(revoked)))
    }

    /// R1: made-up entries past the kept head are refused, not signed into the log.
    @Test func madeUpEntriesAfterTheKeptHeadAreRefused() throws {
        let box = try Box()
        let pending = try Self.sendNew(box, seed: 23)
        try Self.certifyReceiptKey(box)
        try box.backup()
        let whole = try Self.export(box, "whole.jsonl")
        Self.loseDatabase(box)
        let genuine = try box.directory.read("whole.jsonl")
        var text = String(decoding: genuine, as: UTF8.self)
        let count = text.split(separator: "\n").count - 1
        for (offset, kind) in [LogEntry.Kind.delivered, .deleted].enumerated() {
            let entry = LogEntry(
                sequence: Int64(count + 1 + offset), time: Int64(Date().timeIntervalSince1970 * 1000), kind: kind, actor: "newvendor",
                transfer: pending.id)
            text += String(decoding: entry.encoded(), as: UTF8.self) + "\n"
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: whole))
        try Self.expectRefusedUnchanged(try box.restore(["--log", whole]), "does not match its own signed tree head", box)
        // The genuine export restores: the transfer, untouched since the backup, stays available.
        try Data(genuine).write(to: URL(fileURLWithPath: whole))
        let restored = try box.restore(["--log", whole])
        #expect(restored.status == 0, "\(restored.standardError)")
        #expect(try box.store().transfer(id: pending.id)?.state == .available)
        #expect(try box.store().logEntries().allSatisfy { try LogEntry(decoding: $0).kind != .delivered })
    }

    /// R7: a delivery by a plain SFTP client (it never asks for a head)
    /// advances the kept head, so with the database lost, the blob put back
    /// and only an older export at hand, the restore knows entries are
    /// missing: refused, or the transfer ended with --end-pending.
    @Test func aPlainSFTPDeliveryAdvancesTheKeptHead() throws {
        let box = try Box()
        let transfer = try Self.sendNew(box, seed: 24)
        let revoked = try Self.sendNew(box, seed: 25)
        try Self.certifyReceiptKey(box)
        try box.backup()
        let older = try Self.export(box, "older.jsonl")
        let olderSize = try #require(KeptLogHead.read(path: Self.keptHeadPath(box))).treeHead.size
        let blob = try Data(contentsOf: URL(fileURLWithPath: box.blobPath(transfer)))
        #expect(try box.download(transfer.id, to: "got.sealdrop").status == 0)

        let entries = try box.store().logEntries()
        let delivery = try #require(try Self.index(of: .delivered, transfer, in: entries))
        let kept = try #require(KeptLogHead.read(path: Self.keptHeadPath(box)))
        #expect(kept.treeHead.size > delivery, "the kept head covers the delivery")
        #expect(kept.treeHead.size > olderSize)
        #expect(Hex.encode(MerkleTree.root(entries.prefix(kept.treeHead.size).map(MerkleTree.leafHash)[...])) == kept.treeHead.root)
        #expect(kept.firstLeaf == Hex.encode(MerkleTree.leafHash(entries[0])))
        // A revocation advances it too.
        #expect(try box.sftp("oldvendor", ["rm /sent/\(revoked.id).sealdrop"]).status == 0)
        let revocation = try #require(try Self.index(of: .revoked, revoked, in: try box.store().logEntries()))
        #expect(try #require(KeptLogHead.read(path: Self.keptHeadPath(box))).treeHead.size > revocation)

        Self.loseDatabase(box)
        try blob.write(to: URL(fileURLWithPath: box.blobPath(transfer)))
        try Self.expectRefusedUnchanged(try box.restore(["--log", older]), "handed out a log of", box)
        let restored = try box.restore(["--log", older, "--end-pending"])
        #expect(restored.status == 0, "\(restored.standardError)")
        try box.expectNoSecondDownload(transfer, state: .expired)
    }

    /// R8: another drop box's backup, with this box's database lost and
    /// its kept head larger than that backup's log: refused, --end-pending or not.
    @Test func anotherDropBoxsBackupIsRefusedEvenWithEndPending() throws {
        let box = try Box()
        let other = try Box()
        let mine = try Self.sendNew(box, seed: 26)
        _ = try Self.sendNew(box, seed: 27)
        #expect(try box.download(mine.id, to: "got.sealdrop").status == 0)
        _ = try Self.sendNew(other, seed: 28)
        let backup = try other.sealdropd(["backup", "--to", box.directory.file("backup.sqlite")])
        #expect(backup.status == 0, "\(backup.standardError)")
        #expect(try #require(KeptLogHead.read(path: Self.keptHeadPath(box))).treeHead.size > 0)
        Self.loseDatabase(box)
        for extra in [[], ["--end-pending"]] {
            try Self.expectRefusedUnchanged(try box.restore(extra), "the backup is not of this drop box", box)
        }
    }

    /// R9: a head that this drop box did not sign (a forged one, another
    /// drop box's) is refused, given or kept; the drop box's own restores.
    @Test func aHeadThisDropBoxDidNotSignIsRefused() throws {
        let box = try Box()
        let other = try Box()
        let delivered = try Self.sendNew(box, seed: 29)
        let theirs = try Self.sendNew(other, seed: 31)
        #expect(try other.download(theirs.id, to: "got.sealdrop").status == 0)
        try box.backup()
        #expect(try box.download(delivered.id, to: "got.sealdrop").status == 0)
        let before = try box.store().logEntries()

        let forged = try box.directory.write(
            Array(
                #"{"root":"\#(String(repeating: "0", count: 64))","signature":"\#(String(repeating: "0", count: 128))","size":100000,"timestamp":1764460800000}"#
                    .utf8), to: "forged.tree-head.json")
        let foreign = other.data + "/" + DropBox.logHeadFile
        for head in [forged, foreign] {
            try Self.expectRefusedUnchanged(
                try box.restore(["--log-head", head, "--end-pending"]), "is not signed by this drop box's receipt key", box, databaseExisted: true)
        }
        let kept = try box.directory.read("data/" + DropBox.logHeadFile)
        _ = try box.directory.write(try box.directory.read("forged.tree-head.json"), to: "data/" + DropBox.logHeadFile)
        try Self.expectRefusedUnchanged(try box.restore(), "move it aside", box, databaseExisted: true)
        #expect(try box.store().logEntries() == before)

        _ = try box.directory.write(kept, to: "data/" + DropBox.logHeadFile)
        let restored = try box.restore(["--log-head", box.data + "/" + DropBox.logHeadFile])
        #expect(restored.status == 0, "\(restored.standardError)")
        try box.expectNoSecondDownload(delivered, state: .delivered)
    }

    /// R10: while a server holds its node lock, the restore refuses (its
    /// later records would be lost); once it stops, the restore runs.
    @Test func aRunningServerRefusesTheRestore() throws {
        let box = try Box()
        _ = try Self.sendNew(box, seed: 32)
        try box.backup()
        do {
            let running = try DropBox(configuration: DropBoxConfiguration(dataDirectory: box.data, trustDirectory: box.trust))
            try Self.expectRefusedUnchanged(try box.restore(), "stop every sealdropd serve", box, databaseExisted: true)
            withExtendedLifetime(running) {}
        }
        let restored = try box.restore()
        #expect(restored.status == 0, "\(restored.standardError)")
    }
}
