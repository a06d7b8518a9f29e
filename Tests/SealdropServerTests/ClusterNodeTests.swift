import Foundation
import SealdropSFTP
import SealdropStore
import Testing
import TestSupport

/// Several processes on one store and one blob directory: cluster keys
/// (`host-key`, `receipt-key`, recorded by the first node), per-node
/// staging, and start-ups that leave other live processes' work alone.
@Suite(.serialized) struct ClusterNodeTests {
    /// A fresh Ed25519 key made by OpenSSH, as an operator would make the cluster's keys.
    static func makeKey(_ directory: TemporaryDirectory, _ name: String) throws -> String {
        let path = directory.file(name)
        let made = try Subprocess.run(Subprocess.which("ssh-keygen") ?? "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path])
        guard made.status == 0 else { throw FixtureError.setup(made.standardError) }
        return path
    }

    static func nodeSettings(_ id: String, host: String, receipt: String) -> [String] {
        ["node-id = \(id)", "host-key = \(host)", "receipt-key = \(receipt)"]
    }

    /// Runs `sealdropd serve` expecting it to refuse to start: its exit
    /// status and standard error (a server that does start is stopped and reported).
    static func refusedStart(_ directory: TemporaryDirectory, _ settings: [String]) throws -> (status: Int32, standardError: String) {
        let config = try directory.write(Array((settings.joined(separator: "\n") + "\n").utf8), to: "refused-\(UUID().uuidString).conf")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixtures.sealdropd)
        process.arguments = [
            "serve", "--config", config, "--data", directory.file("data"), "--trust", directory.file("ca/trust"), "--listen", "127.0.0.1:0",
        ]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            Issue.record("sealdropd started with \(settings)")
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test func aNamedNodeNeedsTheClusterKeysGiven() throws {
        let server = try ServerFixture()
        server.stop()
        let host = try Self.makeKey(server.directory, "host_key")
        let withoutHost = try Self.refusedStart(server.directory, ["node-id = node1", "receipt-key = \(host)"])
        #expect(withoutHost.status != 0)
        #expect(withoutHost.standardError.contains("host-key is not set"), "\(withoutHost.standardError)")
        let withoutReceipt = try Self.refusedStart(server.directory, ["node-id = node1", "host-key = \(host)"])
        #expect(withoutReceipt.standardError.contains("receipt-key is not set"), "\(withoutReceipt.standardError)")
        let missingFile = try Self.refusedStart(server.directory, Self.nodeSettings("node1", host: host, receipt: server.directory.file("absent")))
        #expect(missingFile.standardError.contains("does not exist"), "\(missingFile.standardError)")
        #expect(!FileManager.default.fileExists(atPath: server.directory.file("absent")), "no key is made")
    }

    @Test func aNodeWithAnotherKeyThanTheClustersRefusesToStart() throws {
        let first = try ServerFixture()
        first.stop()
        let directory = first.directory
        let host = try Self.makeKey(directory, "host_key")
        let receipt = try Self.makeKey(directory, "receipt_key")
        let otherHost = try Self.makeKey(directory, "other_host_key")
        let otherReceipt = try Self.makeKey(directory, "other_receipt_key")
        let node1 = try ServerFixture(settings: Self.nodeSettings("node1", host: host, receipt: receipt), reusing: directory)
        // The same keys: a second node starts beside the first.
        let node2 = try ServerFixture(settings: Self.nodeSettings("node2", host: host, receipt: receipt), reusing: directory)
        #expect(node2.hostKeyFingerprint == node1.hostKeyFingerprint)
        let wrongHost = try Self.refusedStart(directory, Self.nodeSettings("node3", host: otherHost, receipt: receipt))
        #expect(wrongHost.status != 0)
        #expect(
            wrongHost.standardError.contains("host key") && wrongHost.standardError.contains("is not the cluster's \(node1.hostKeyFingerprint)"),
            "\(wrongHost.standardError)")
        let wrongReceipt = try Self.refusedStart(directory, Self.nodeSettings("node3", host: host, receipt: otherReceipt))
        #expect(wrongReceipt.status != 0)
        #expect(wrongReceipt.standardError.contains("receipt key"), "\(wrongReceipt.standardError)")
        // Two live processes cannot share one node id.
        let sameID = try Self.refusedStart(directory, Self.nodeSettings("node1", host: host, receipt: receipt))
        #expect(sameID.standardError.contains("another sealdropd runs as node \"node1\""), "\(sameID.standardError)")
        #expect(try node1.sftp("newvendor", ["ls /inbox"]).status == 0)
    }

    /// Opens an upload as `vendor` on a raw SFTP session and writes the first `split` bytes.
    static func startUpload(_ client: RawSFTPClient, _ envelope: [UInt8], split: Int) throws -> [UInt8] {
        let reply = try client.exchange(.open(id: client.id(), path: Array("/outbox/newvendor/x.sealdrop".utf8), flags: [.write, .create], attributes: .empty))
        guard case .handle(_, let handle) = reply else { throw FixtureError.setup("open for upload: \(reply)") }
        try write(client, handle, envelope, 0..<split)
        return handle
    }

    static func write(_ client: RawSFTPClient, _ handle: [UInt8], _ envelope: [UInt8], _ range: Range<Int>) throws {
        var offset = range.lowerBound
        while offset < range.upperBound {
            let end = min(range.upperBound, offset + 32 * 1024)
            let reply = try client.exchange(.write(id: client.id(), handle: handle, offset: UInt64(offset), data: Array(envelope[offset..<end])))
            guard case .status(_, .ok, _) = reply else { throw FixtureError.setup("write: \(reply)") }
            offset = end
        }
    }

    static func stagedFiles(_ directory: TemporaryDirectory) -> [String] {
        let root = directory.file("data/staging")
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        return walker.compactMap { $0 as? String }.filter { !FileManager.default.fileExists(atPath: root + "/" + $0 + "/.") && $0.hasSuffix(".upload") }
    }

    /// The risk this fixes: a `serve` starting beside a live
    /// `sftp-subsystem` session removed its staging file (and any blob not
    /// yet committed), so the upload failed at its end.
    @Test func aServerStartingBesideASubsystemUploadLeavesItAlone() throws {
        let server = try ServerFixture()
        server.stop()
        let directory = server.directory
        let envelope = try directory.read(try server.seal(Fixtures.bytes(300_000, seed: 9)))
        let session = try RawSFTPClient(
            Fixtures.sealdropd, ["sftp-subsystem", "--vendor", "oldvendor", "--data", directory.file("data"), "--trust", server.trust],
            directory: directory.path)
        let handle = try Self.startUpload(session, envelope, split: envelope.count / 2)
        let staged = Self.stagedFiles(directory)
        #expect(staged.count == 1 && staged.first?.hasPrefix("subsystem/") == true, "\(staged)")

        let restarted = try ServerFixture(reusing: directory)
        #expect(Self.stagedFiles(directory) == staged, "the subsystem's upload is still staged")
        try Self.write(session, handle, envelope, envelope.count / 2..<envelope.count)
        let closed = try session.exchange(.close(id: session.id(), handle: handle))
        guard case .status(_, .ok, _) = closed else {
            Issue.record("the upload failed at its end: \(closed)")
            return
        }
        let inbox = try SQLiteTransferStore(path: directory.file("data/metadata.sqlite")).inbox(recipient: "newvendor")
        #expect(inbox.count == 1 && inbox.first?.size == UInt64(envelope.count))
        session.kill()
        #expect(try restarted.sftp("newvendor", ["ls /inbox"]).output.contains(".sealdrop"))
    }

    /// Two nodes on one data directory and blob directory: node1 has an
    /// upload half done when node2 starts; node2's start-up leaves it, and
    /// the upload completes and is published.
    @Test func aNodeStartingMidUploadOnAnotherNodeLeavesTheUploadToFinish() throws {
        let first = try ServerFixture()
        first.stop()
        let directory = first.directory
        let host = try Self.makeKey(directory, "host_key")
        let receipt = try Self.makeKey(directory, "receipt_key")
        let blobs = directory.file("shared-blobs")
        let node1 = try ServerFixture(settings: Self.nodeSettings("node1", host: host, receipt: receipt) + ["blob-directory = \(blobs)"], reusing: directory)
        let envelope = try directory.read(try node1.seal(Fixtures.bytes(400_000, seed: 11)))
        let session = try RawSFTPClient(node1, user: "oldvendor")
        let handle = try Self.startUpload(session, envelope, split: envelope.count / 3)
        let staged = try FileManager.default.contentsOfDirectory(atPath: blobs + "/staging/node1")
        #expect(staged.count == 1, "node1 stages in its own folder: \(staged)")

        let node2 = try ServerFixture(settings: Self.nodeSettings("node2", host: host, receipt: receipt) + ["blob-directory = \(blobs)"], reusing: directory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs + "/staging/node1") == staged, "node2's start-up left node1's upload")
        try Self.write(session, handle, envelope, envelope.count / 3..<envelope.count)
        let closed = try session.exchange(.close(id: session.id(), handle: handle))
        guard case .status(_, .ok, _) = closed else {
            Issue.record("the upload failed at its end: \(closed)")
            return
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs + "/blobs").count == 1, "published into the shared blob directory")
        session.kill()
        // The transfer is served by the other node, from the shared blobs.
        // (No SSH client is left running while the nodes stop: Foundation
        // can miss a child's exit until another child exits.)
        let id = try #require(try SQLiteTransferStore(path: directory.file("data/metadata.sqlite")).inbox(recipient: "newvendor").first?.id)
        let got = try node2.sftp("newvendor", ["get /inbox/\(id).sealdrop got.sealdrop"])
        #expect(got.status == 0, "\(got.standardError)")
        #expect(try directory.read("got.sealdrop") == envelope)
        node2.stop()
        node1.stop()
    }
}
