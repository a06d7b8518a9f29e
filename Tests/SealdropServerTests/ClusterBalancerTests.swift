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

extension ClusterBalancerTests {
    /// The node whose process has `blob` open (the one serving it).
    static func nodeServing(_ cluster: ClusterFixture, blob: String) -> ServerFixture? {
        cluster.nodes.first { node in
            let fds = "/proc/\(node.process.processIdentifier)/fd"
            return ((try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? []).contains { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + fd))?.hasSuffix(blob) == true
            }
        }
    }

    /// `sealdrop receive` through the balancer; the node serving it is
    /// killed (SIGKILL); the same command, run again, resumes through
    /// another node once the claim's lease lapses, and the transfer is
    /// delivered once.
    @Test func aDownloadWhoseNodeIsKilledResumesThroughAnotherAndIsDeliveredOnce() throws {
        let cluster = try ClusterFixture(extraSettings: ["claim-lease = 2s"])
        let first = cluster.nodes[0]
        var environment = try ClientIntegrationTests.profiles(first)
        environment["SEALDROP_SERVER"] = "127.0.0.1:\(cluster.balancerPort)"
        let plaintext = Fixtures.bytes(64 * 1024 * 1024, seed: 41)
        _ = try cluster.directory.write(plaintext, to: "big")
        let sent = try ClientIntegrationTests.run(first, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor", "--quiet"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let store = try SQLiteTransferStore(path: cluster.directory.file("data/metadata.sqlite"))
        let transfer = try #require(try store.inbox(recipient: "newvendor").first)

        let (process, partial) = try ClientIntegrationTests.startReceive(first, environment, transfer.id, output: "big.out", waiting: 60)
        let serving = try #require(Self.nodeServing(cluster, blob: transfer.blob), "one node has the blob open")
        let killedAt = Date()
        serving.crash()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0, "the receive fails when its node dies")
        #expect(partial > 0 && partial < UInt64(plaintext.count), "killed mid-download (at \(partial) bytes)")

        Thread.sleep(forTimeInterval: max(0, 2.5 - Date().timeIntervalSince(killedAt)))
        let resumed = try ClientIntegrationTests.run(first, environment, ["receive", transfer.id, "-o", "big.out", "--profile", "newvendor"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardError.contains("resuming at byte"), "\(resumed.standardError)")
        #expect(try cluster.directory.read("big.out") == plaintext)
        let again = try ClientIntegrationTests.run(first, environment, ["receive", transfer.id, "-o", "again.out", "--profile", "newvendor"])
        #expect(again.status != 0, "nothing more can be had")
        #expect(try store.transfer(id: transfer.id)?.state == .delivered)
        cluster.stop()
        let events = try events(cluster).filter { $0.transferID == transfer.id }
        #expect(events.filter { $0.kind == .delivered }.count == 1, "delivered once")
        #expect(!FileManager.default.fileExists(atPath: cluster.directory.file("shared-blobs/blobs/" + transfer.blob)), "and its blob deleted")
    }
}
