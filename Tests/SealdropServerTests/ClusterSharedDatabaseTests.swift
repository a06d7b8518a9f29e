import Foundation
@testable import SealdropDaemon
import SealdropStore
import Testing
import TestSupport

/// What nodes on one PostgreSQL database share beyond transfers: the
/// cluster's recorded key fingerprints and the failed-login counts.
@Suite(.serialized) struct ClusterSharedDatabaseTests {
    /// The first node records the cluster's fingerprints in the database; a
    /// node given another host key or receipt key refuses to start, even
    /// with its own empty data directory.
    @Test(arguments: ClusterEngine.postgresOnly)
    func aNodeWithAnotherKeyThanTheDatabaseRecordsRefusesToStart(_ engine: ClusterEngine) throws {
        let cluster = try ClusterFixture(engine, nodes: 1, balancer: false)
        let directory = cluster.directory
        let otherHost = try ClusterNodeTests.makeKey(directory, "other_host_key")
        let otherReceipt = try ClusterNodeTests.makeKey(directory, "other_receipt_key")
        let database = try #require(cluster.database)
        let common = ["blob-directory = \(directory.file("shared-blobs"))", "database = \(database)"]
        let wrongHost = try ClusterNodeTests.refusedStart(
            directory, ["node-id = node2", "host-key = \(otherHost)", "receipt-key = \(cluster.receiptKey)"] + common)
        #expect(wrongHost.status != 0)
        #expect(
            wrongHost.standardError.contains("host key") && wrongHost.standardError.contains("is not the cluster's \(cluster.nodes[0].hostKeyFingerprint)"),
            "\(wrongHost.standardError)")
        let wrongReceipt = try ClusterNodeTests.refusedStart(
            directory, ["node-id = node2", "host-key = \(cluster.hostKey)", "receipt-key = \(otherReceipt)"] + common)
        #expect(wrongReceipt.status != 0)
        #expect(wrongReceipt.standardError.contains("receipt key"), "\(wrongReceipt.standardError)")
        // The running node is untouched.
        #expect(try cluster.nodes[0].sftp("newvendor", ["ls /inbox"]).status == 0)
    }

    /// `sftp` as `user` with `identity`'s key from the loopback address `source` to `node`.
    static func sftp(_ node: ServerFixture, from source: String, user: String = "newvendor", identity: String) throws -> ProcessResult {
        let batch = try node.directory.write(Array("ls /\n".utf8), to: "batch-\(UUID().uuidString)")
        return try Subprocess.run(
            Subprocess.which("sftp") ?? "/usr/bin/sftp", node.sshOptions(identity) + ["-o", "BindAddress=\(source)", "-b", batch, "\(user)@127.0.0.1"],
            directory: node.directory.path)
    }

    /// A source that fails its logins on node1 is limited on node2 too (the
    /// counts are in the database); another source is not.
    @Test(arguments: ClusterEngine.postgresOnly)
    func failedLoginsOnOneNodeLimitTheSourceOnAnother(_ engine: ClusterEngine) throws {
        let cluster = try ClusterFixture(engine, nodes: 2, balancer: false, extraSettings: ["failed-logins-per-minute = 3"])
        let (node1, node2) = (cluster.nodes[0], cluster.nodes[1])
        let before = try Self.sftp(node2, from: "127.0.0.3", identity: "newvendor")
        #expect(before.status == 0, "node2 lets the source in before it fails anywhere: \(before.standardError)")
        for _ in 0..<3 { #expect(try Self.sftp(node1, from: "127.0.0.3", identity: "stranger").status != 0) }
        // node2 read the source's shared count at the first login and uses
        // it for up to a second (FailedLoginLimiter.sharedCountLifetime).
        Thread.sleep(forTimeInterval: FailedLoginLimiter.sharedCountLifetime + 0.2)
        let limited = try Self.sftp(node2, from: "127.0.0.3", identity: "newvendor")
        #expect(limited.status != 0, "node2 refuses the source that failed on node1, even with the right key")
        let other = try Self.sftp(node2, from: "127.0.0.1", identity: "newvendor")
        #expect(other.status == 0, "another source is not limited: \(other.standardError)")
        let log = node2.log()
        #expect(log.contains("refused a connection from 127.0.0.3: too many failed logins"), "\(log)")
        cluster.stop()
        let refusals = try cluster.events().filter { $0.kind == .refusedSession && $0.detail.contains("too many failed logins") }
        #expect(!refusals.isEmpty, "the refusal is on the record")
    }
}
