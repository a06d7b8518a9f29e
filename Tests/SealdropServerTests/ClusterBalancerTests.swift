import Foundation
import SealdropStore
import Synchronization
import Testing
import TestSupport

/// Three nodes behind a real HAProxy, sharing metadata and blobs: the
/// drop box's promises hold across nodes.
@Suite(.serialized) struct ClusterBalancerTests {
    func events(_ cluster: ClusterFixture) throws -> [TransferEvent] {
        try SQLiteTransferStore(path: cluster.directory.file("data/metadata.sqlite")).events()
    }

    @Test func twentyRecipientSessionsRacingForOneTransferGetOneDelivery() throws {
        let cluster = try ClusterFixture()
        let envelope = try cluster.nodes[0].seal(Fixtures.bytes(2_000_000, seed: 21))
        #expect(try cluster.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        let id = try #require(try SQLiteTransferStore(path: cluster.directory.file("data/metadata.sqlite")).inbox(recipient: "newvendor").first?.id)
        let results = Mutex<[(Int, ProcessResult)]>([])
        DispatchQueue.concurrentPerform(iterations: 20) { index in
            if let result = try? cluster.sftp("newvendor", ["get /inbox/\(id).sealdrop got-\(index).sealdrop"]) {
                results.withLock { $0.append((index, result)) }
            }
        }
        let all = results.withLock { $0 }
        #expect(all.count == 20)
        let winners = all.filter { $0.1.status == 0 }
        #expect(winners.count == 1, "exactly one download: \(winners.count)")
        for (index, result) in all where result.status != 0 {
            #expect(!result.standardError.isEmpty, "session \(index) was told why")
            let partial = (try? cluster.directory.read("got-\(index).sealdrop")) ?? []
            #expect(partial.isEmpty, "session \(index) got no bytes")
        }
        if let winner = winners.first {
            #expect(try cluster.directory.read("got-\(winner.0).sealdrop") == (try cluster.directory.read(envelope)))
        }
        cluster.stop()
        let ended = try events(cluster).filter { $0.transferID == id }
        #expect(ended.filter { $0.kind == .delivered }.count == 1)
        #expect(ended.filter { $0.kind == .deleted }.count == 1)
    }

    @Test func uploadsThroughEveryNodeMakeOneLogThatVerifies() throws {
        let cluster = try ClusterFixture()
        for index in 0..<6 {
            let envelope = try cluster.nodes[0].seal(Fixtures.bytes(50_000 + index, seed: UInt64(30 + index)), name: "u\(index)")
            // With every node idle, leastconn takes them in turn.
            let put = try cluster.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"])
            #expect(put.status == 0, "\(put.standardError)")
        }
        cluster.stop()
        let logs = cluster.nodes.map { $0.log() }
        let serving = logs.filter { $0.contains("session start: oldvendor") }.count
        #expect(serving >= 2, "the balancer used several nodes (\(serving))")
        let exported = try Subprocess.run(
            Fixtures.sealdropd,
            [
                "log", "export", "-o", "log.json", "--data", cluster.directory.file("data"), "--trust", cluster.nodes[0].trust, "--receipt-key",
                cluster.receiptKey,
            ],
            directory: cluster.directory.path)
        #expect(exported.status == 0, "\(exported.standardError)")
        let verified = try cluster.nodes[0].sealdrop(["audit", "verify", "log.json", "--ca", "ca/trust/ca.pem"])
        #expect(verified.status == 0, "\(verified.standardError)\(verified.output)")
        #expect(try events(cluster).filter { $0.kind == .uploadPublished }.count == 6)
    }
}
