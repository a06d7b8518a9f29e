import Foundation
import SealdropStore
import Synchronization
import Testing
import TestSupport

/// Three nodes behind a real HAProxy, sharing metadata (PostgreSQL, or one
/// SQLite file when no database is configured: `ClusterEngine`) and blobs:
/// the drop box's promises hold across nodes.
@Suite(.serialized) struct ClusterBalancerTests {
    @Test(arguments: ClusterEngine.forClusters)
    func twentyRecipientSessionsRacingForOneTransferMakeOneDelivery(_ engine: ClusterEngine) throws {
        let cluster = try ClusterFixture(engine)
        let envelope = try cluster.nodes[0].seal(Fixtures.bytes(2_000_000, seed: 21))
        #expect(try cluster.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        let id = try #require(try cluster.store().inbox(recipient: "newvendor").first?.id)
        let results = Mutex<[(Int, ProcessResult)]>([])
        DispatchQueue.concurrentPerform(iterations: 20) { index in
            if let result = try? cluster.sftp("newvendor", ["get /inbox/\(id).sealdrop got-\(index).sealdrop"]) {
                results.withLock { $0.append((index, result)) }
            }
        }
        let all = results.withLock { $0 }
        #expect(all.count == 20)
        // Sessions of the one recipient may share its claim (a client
        // downloading with several connections), so more than one get can
        // finish while the transfer is open; each has the whole envelope,
        // every other one is refused with a reason, and the transfer is
        // delivered once.
        let winners = all.filter { $0.1.status == 0 }
        #expect(!winners.isEmpty, "a download finished")
        let sealed = try cluster.directory.read(envelope)
        for (index, result) in all {
            if result.status == 0 {
                #expect(try cluster.directory.read("got-\(index).sealdrop") == sealed, "session \(index) got the whole envelope")
            } else {
                #expect(!result.standardError.isEmpty, "session \(index) was told why")
            }
        }
        cluster.stop()
        let ended = try cluster.events().filter { $0.transferID == id }
        #expect(ended.filter { $0.kind == .delivered }.count == 1)
        #expect(ended.filter { $0.kind == .deleted }.count == 1)
    }

    @Test(arguments: ClusterEngine.forClusters)
    func uploadsThroughEveryNodeMakeOneLogThatVerifies(_ engine: ClusterEngine) throws {
        let cluster = try ClusterFixture(engine)
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
            ] + cluster.databaseArguments,
            directory: cluster.directory.path)
        #expect(exported.status == 0, "\(exported.standardError)")
        let verified = try cluster.nodes[0].sealdrop(["audit", "verify", "log.json", "--ca", "ca/trust/ca.pem"])
        #expect(verified.status == 0, "\(verified.standardError)\(verified.output)")
        #expect(try cluster.events().filter { $0.kind == .uploadPublished }.count == 6)
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
    @Test(arguments: ClusterEngine.forClusters)
    func aDownloadWhoseNodeIsKilledResumesThroughAnotherAndIsDeliveredOnce(_ engine: ClusterEngine) throws {
        let cluster = try ClusterFixture(engine, extraSettings: ["claim-lease = 2s"])
        let first = cluster.nodes[0]
        let environment = try cluster.clientEnvironment()
        let plaintext = Fixtures.bytes(64 * 1024 * 1024, seed: 41)
        _ = try cluster.directory.write(plaintext, to: "big")
        let sent = try ClientIntegrationTests.run(first, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor", "--quiet"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let store = try cluster.store()
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
        let events = try cluster.events().filter { $0.transferID == transfer.id }
        #expect(events.filter { $0.kind == .delivered }.count == 1, "delivered once")
        #expect(!FileManager.default.fileExists(atPath: cluster.directory.file("shared-blobs/blobs/" + transfer.blob)), "and its blob deleted")
    }

    /// Every node runs a reaper on the shared store: each expired transfer
    /// still gets exactly one "expired" and one "deleted" entry, and its blob goes.
    @Test(arguments: ClusterEngine.forClusters)
    func reapersOnEveryNodeExpireEachTransferOnce(_ engine: ClusterEngine) throws {
        let cluster = try ClusterFixture(engine, extraSettings: ["reaper-interval = 1s"])
        let first = cluster.nodes[0]
        let environment = try cluster.clientEnvironment()
        for index in 0..<4 {
            _ = try cluster.directory.write(Fixtures.bytes(10_000 + index, seed: UInt64(50 + index)), to: "e\(index)")
            let sent = try ClientIntegrationTests.run(
                first, environment, ["send", "e\(index)", "--to", "newvendor", "--expires", "60s", "--profile", "oldvendor", "--quiet"])
            #expect(sent.status == 0, "\(sent.standardError)")
        }
        let store = try cluster.store()
        let ids = try store.inbox(recipient: "newvendor").map(\.id)
        #expect(ids.count == 4)
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline, try !store.inbox(recipient: "newvendor").isEmpty { Thread.sleep(forTimeInterval: 1) }
        // Two more reaper rounds on every node after the last expiry.
        Thread.sleep(forTimeInterval: 3)
        cluster.stop()
        let events = try cluster.events()
        for id in ids {
            let mine = events.filter { $0.transferID == id }
            #expect(mine.filter { $0.kind == .expired }.count == 1, "one expiry for \(id)")
            #expect(mine.filter { $0.kind == .deleted }.count == 1, "one deletion for \(id)")
            #expect(try store.transfer(id: id)?.state == .expired)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cluster.directory.file("shared-blobs/blobs")).isEmpty)
    }
}
