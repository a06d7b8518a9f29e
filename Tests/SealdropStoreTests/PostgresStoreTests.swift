import Dispatch
import Foundation
import SealdropCrypto
import SealdropLog
import SealdropStore
@testable import SealdropStorePostgres
import Synchronization
import Testing
import TestSupport

/// What only a shared database has to get right: nodes racing on separate
/// connections, nodes dying, clocks disagreeing, a node stuck mid-transaction.
@Suite struct PostgresStoreTests {
    let now = Sample.now

    /// `count` nodes on one schema, each with its own connection and heartbeat.
    func nodes(_ count: Int, on fixture: StoreFixture, clock: PostgresTransferStore.Clock = .caller) throws -> [PostgresTransferStore] {
        try (0..<count).map { index in
            try PostgresTransferStore(settings: fixture.postgresSettings(maximumConnections: 1), nodeID: "node-\(index)", clock: clock)
        }
    }

    @Test(arguments: StoreEngine.postgresOnly) func handlesOnTwentyNodesClosingAtOnceDeliverExactlyOnce(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let nodes = try nodes(20, on: fixture, clock: .database)
        try nodes[0].publish(Sample.transfer("aa", size: 100), event: Sample.event(.uploadPublished, "aa"))
        // One recipient's multi-connection client, its streams spread over
        // 20 nodes: each joins the claim, reads its twentieth and CLOSEs.
        let delivered = Mutex([String]())
        let failures = Mutex([String]())
        DispatchQueue.concurrentPerform(iterations: nodes.count) { index in
            let node = nodes[index]
            let session = "s\(index)"
            do throws(StoreError) {
                _ = try node.claim(id: "aa", recipient: "newvendor", session: session, now: Date(), event: Sample.event(.claimed, "aa"))
                let start = UInt64(index) * 5
                try node.recordServed(id: "aa", session: session, ranges: ServedRanges([start..<(start + 5)]), now: Date())
            } catch {
                failures.withLock { $0.append("\(session): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        DispatchQueue.concurrentPerform(iterations: nodes.count) { index in
            let closed = try? nodes[index].close(
                id: "aa", session: "s\(index)", now: Date(), delivered: Sample.event(.delivered, "aa"),
                deletion: TransferEvent(time: Date(), kind: .deleted, actor: "server", sourceAddress: "", transferID: "aa", detail: "delivered"),
                released: Sample.event(.released, "aa"))
            if closed?.state == .delivered { delivered.withLock { $0.append("s\(index)") } }
        }
        #expect(delivered.withLock { $0.count } == 1, "the last CLOSE delivers, once: \(delivered.withLock { $0 })")
        #expect(try nodes[7].transfer(id: "aa")?.state == .delivered)
        let kinds = try nodes[0].events().map(\.kind)
        #expect(kinds.filter { $0 == .delivered }.count == 1)
        #expect(kinds.filter { $0 == .deleted }.count == 1)
        #expect(throws: StoreError(.notFound, ""), "delivered means gone") {
            try nodes[3].claim(id: "aa", recipient: "newvendor", session: "late", now: Date(), event: Sample.event(.claimed, "aa"))
        }
    }

    @Test(arguments: StoreEngine.postgresOnly) func reapersOnEveryNodeEndEachTransferOnce(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let nodes = try nodes(8, on: fixture)
        let ids = (0..<40).map { String(format: "t%02d", $0) }
        for id in ids { try nodes[0].publish(Sample.transfer(id, expires: 10), event: Sample.event(.uploadPublished, id)) }
        let expired = Mutex([String]())
        let later = now.addingTimeInterval(60)
        DispatchQueue.concurrentPerform(iterations: nodes.count) { index in
            for _ in 0..<3 {
                if let ended = try? nodes[index].expire(now: later) { expired.withLock { $0 += ended.map(\.id) } }
            }
        }
        #expect(expired.withLock { $0.sorted() } == ids, "each transfer expired by exactly one reaper")
        let events = try nodes[0].events()
        for id in ids {
            let kinds = events.filter { $0.transferID == id }.map(\.kind)
            #expect(kinds == [.uploadPublished, .expired, .deleted], "\(id): \(kinds)")
        }
    }

    @Test(arguments: StoreEngine.postgresOnly) func concurrentAppendsFromManyNodesMakeOneGapFreeLogThatVerifies(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let nodes = try nodes(6, on: fixture)
        let reader = try fixture.reopen(node: "reader")
        let writing = Atomic<Bool>(true)
        let snapshots = Mutex([Int]())
        let badSnapshots = Mutex([String]())
        // A reader takes snapshots while the nodes write: every snapshot must
        // be a gap-free prefix (numbers commit in order), never 1, 2, 4.
        let readerDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while writing.load(ordering: .acquiring) {
                guard let entries = try? reader.logEntries() else { continue }
                let numbers = entries.compactMap { try? LogEntry(decoding: $0).sequence }
                if numbers != (0..<Int64(entries.count)).map({ $0 + 1 }) { badSnapshots.withLock { $0.append("\(numbers.suffix(5))") } }
                snapshots.withLock { $0.append(entries.count) }
            }
            readerDone.signal()
        }
        DispatchQueue.concurrentPerform(iterations: nodes.count) { index in
            let node = nodes[index]
            for round in 0..<10 {
                // Transfer ids as envelopes carry them: 32 hex digits.
                let id = String(format: "%032x", index * 100 + round)
                do {
                    var published = Sample.event(.uploadPublished, id)
                    published.expiresAt = now.addingTimeInterval(3600)
                    try node.publish(Sample.transfer(id, size: 10), event: published)
                    try node.record([Sample.event(.loginRefused), Sample.event(.refusedClaim)])
                    _ = try node.claim(id: id, recipient: "newvendor", session: id, now: now, event: Sample.event(.claimed, id))
                    try node.recordServed(id: id, session: id, ranges: ServedRanges([0..<10]), now: now)
                    let deletion = TransferEvent(time: now, kind: .deleted, actor: "server", sourceAddress: "", transferID: id, detail: "delivered")
                    _ = try node.deliver(id: id, session: id, now: now, event: Sample.event(.delivered, id), deletion: deletion)
                } catch {
                    Issue.record("node \(index) round \(round): \(error)")
                }
            }
        }
        writing.store(false, ordering: .releasing)
        readerDone.wait()
        #expect(badSnapshots.withLock { $0 }.isEmpty)
        #expect(snapshots.withLock { $0.count } > 0)

        let entries = try reader.logEntries()
        #expect(entries.count == nodes.count * 10 * 6)
        #expect(try reader.logLeafHashes() == entries.map(MerkleTree.leafHash))
        let key = Ed25519PrivateKey.generate()
        let head = SignedTreeHead.sign(entries: entries, at: now.addingTimeInterval(5), with: key)
        let problems = AuditVerifier(serverKey: key.publicKey, vendorKeys: [:], grace: 3600).verify(entries: entries, head: head)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test(arguments: StoreEngine.postgresOnly) func aHandleOfANodeThatStoppedBeatingEndsUncounted(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let settings = try fixture.postgresSettings(maximumConnections: 2)
        let dying = try PostgresTransferStore(settings: settings, nodeID: "dying", heartbeatInterval: 0.2, nodeTimeout: 3)
        let survivor = try PostgresTransferStore(settings: settings, nodeID: "survivor", heartbeatInterval: 0.2, nodeTimeout: 3)
        try dying.publish(Sample.transfer("aa"), event: Sample.event(.uploadPublished, "aa"))
        _ = try dying.claim(id: "aa", recipient: "newvendor", session: "s1", now: Date(), event: Sample.event(.claimed, "aa"))
        try dying.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<100]), now: Date())
        // Longer than the node timeout: only the heartbeat keeps the handle.
        Thread.sleep(forTimeInterval: 3.5)
        _ = try survivor.claim(id: "aa", recipient: "newvendor", session: "s2", now: Date(), event: Sample.event(.claimed, "aa"))
        #expect(try survivor.events().last?.detail.contains("joins 1 open handle") == true, "a beating node keeps its handle for the lease")
        dying.stopHeartbeat()
        Thread.sleep(forTimeInterval: 3.5)
        let joined = try survivor.claim(id: "aa", recipient: "newvendor", session: "s3", now: Date(), event: Sample.event(.claimed, "aa"))
        #expect(joined.served.ranges.isEmpty, "the dead node's 100 bytes never count")
        #expect(try survivor.events().last?.detail.contains("1 lapsed handle(s) ended without CLOSE") == true, "its lease still ran, its node did not")
        #expect(throws: StoreError(.notClaimed, "")) { try dying.renewClaim(id: "aa", session: "s1", now: Date()) }
    }

    @Test(arguments: StoreEngine.postgresOnly) func theDatabaseClockDecidesNotTheNodes(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let settings = try fixture.postgresSettings()
        let fast = try PostgresTransferStore(settings: settings, nodeID: "fast", clock: .database)
        let slow = try PostgresTransferStore(settings: settings, nodeID: "slow", clock: .database)
        let real = Date()
        // The node's clock says 1970; the lifetime it chose (an hour) is kept.
        let skewed = Transfer(
            id: "aa", sender: "oldvendor", recipient: "newvendor", size: 10, ciphertextSHA256: String(repeating: "ab", count: 32),
            uploadedAt: Date(timeIntervalSince1970: 0), expiresAt: Date(timeIntervalSince1970: 3600), blob: "blob-aa")
        try slow.publish(skewed, event: Sample.event(.uploadPublished, "aa", at: Date(timeIntervalSince1970: 0)))
        let stored = try #require(try fast.transfer(id: "aa"))
        #expect(abs(stored.uploadedAt.timeIntervalSince(real)) < 300, "upload time from the database")
        #expect(abs(stored.expiresAt.timeIntervalSince(stored.uploadedAt) - 3600) < 0.001)
        #expect(try fast.expire(now: real.addingTimeInterval(86_400 * 365)).isEmpty, "a node clock a year fast expires nothing")
        _ = try slow.claim(id: "aa", recipient: "newvendor", session: "s1", now: Date(timeIntervalSince1970: 0), event: Sample.event(.claimed, "aa"))
        // A node whose clock is a day fast joins; the slow node's handle is not lapsed by it.
        _ = try fast.claim(id: "aa", recipient: "newvendor", session: "s2", now: real.addingTimeInterval(86_400), event: Sample.event(.claimed, "aa"))
        #expect(try fast.events().last?.detail.contains("lapsed") == false)
        let renewed = try slow.renewClaim(id: "aa", session: "s1", now: Date(timeIntervalSince1970: 0))
        #expect(abs(renewed.timeIntervalSince(real) - 60) < 300, "a lease runs from the database's time")
        let events = try fast.events()
        #expect(events.allSatisfy { abs($0.time.timeIntervalSince(real)) < 300 }, "entries carry the database's time")
    }

    @Test(arguments: StoreEngine.postgresOnly) func aNodeStuckHoldingTheLogHeadStallsOthersOnlyBriefly(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        var settings = try fixture.postgresSettings(maximumConnections: 2)
        settings.lockTimeout = 0.5
        settings.idleInTransactionTimeout = 1.5
        let stuck = try PostgresTransferStore(settings: settings, nodeID: "stuck", clock: .caller)
        let other = try PostgresTransferStore(settings: settings, nodeID: "other", clock: .caller)
        // The stuck node takes the log head's lock mid-transaction and stops.
        try stuck.pool.withConnection { (link) throws(StoreError) in
            try link.run("BEGIN")
            try link.run("UPDATE log_head SET size = size WHERE id = 1")
        }
        let started = Date()
        let refused = #expect(throws: StoreError.self) { try other.record(Sample.event(.loginRefused)) }
        #expect(refused?.code == .database)
        #expect(refused?.message.contains("SQLSTATE 55P03") == true, "the SQL state is kept: \(refused?.message ?? "")")
        #expect(Date().timeIntervalSince(started) < settings.callTimeout, "refused by lock_timeout, not a long wait")
        // The server ends the idle transaction; the log moves again.
        Thread.sleep(forTimeInterval: 3.0)
        try other.record(Sample.event(.loginRefused))
        #expect(try other.events().map(\.sequence) == [1])
    }

    @Test(arguments: StoreEngine.postgresOnly) func theRevocationFloorAndCountersAreSharedAndNeverLoseAnUpdate(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let nodes = try nodes(6, on: fixture)
        #expect(try nodes[0].revocationFloor() == 0)
        DispatchQueue.concurrentPerform(iterations: 60) { index in
            _ = try? nodes[index % nodes.count].raiseRevocationFloor(to: UInt64(index))
        }
        #expect(try nodes[3].revocationFloor() == 59, "the highest raise wins, whatever the order")
        #expect(try nodes[1].raiseRevocationFloor(to: 7) == 59, "an older list never lowers the floor")
        #expect(throws: StoreError(.database, "")) { try nodes[1].raiseRevocationFloor(to: UInt64.max) }
        let counts = Mutex([Int64]())
        DispatchQueue.concurrentPerform(iterations: 60) { index in
            if let count = try? nodes[index % nodes.count].incrementCounter("login-failed 192.0.2.7", window: 1e9) {
                counts.withLock { $0.append(count) }
            }
        }
        // One window (a billion seconds: no boundary falls inside the run).
        #expect(counts.withLock { $0.sorted() } == Array(1...60), "every node's count kept, none lost")
        #expect(try nodes[0].incrementCounter("login-failed 192.0.2.8", window: 3600) == 1, "counters are per key")
    }

    @Test(arguments: StoreEngine.postgresOnly) func droppingEndedCountersKeepsAnOpenWindowLongerThanADay(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = try nodes(1, on: fixture)[0]
        #expect(try store.incrementCounter("login-failed 192.0.2.9", window: 1e9) == 1)
        try store.pool.withConnection { (link) throws(StoreError) in
            // A window that ended an hour ago goes; the open one stays.
            try link.run("INSERT INTO rate_counter (key, window_start, window_seconds, count) VALUES ('old', 0, 3600, 5)")
            try PostgresTransferStore.dropEndedCounters(link)
            #expect(try link.query("SELECT key FROM rate_counter WHERE key = 'old'").isEmpty)
        }
        #expect(try store.incrementCounter("login-failed 192.0.2.9", window: 1e9) == 2, "the open window was kept")
    }

    /// The failed-login limit reads every node's count over the last
    /// window: the open window's count plus the previous window's share
    /// still inside it; older windows, other keys and other lengths do not count.
    @Test(arguments: StoreEngine.postgresOnly) func theRecentCountAddsEveryNodesCountOverASlidingWindow(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let nodes = try nodes(3, on: fixture)
        #expect(try nodes[0].recentCount("failed-login 192.0.2.20", window: 3600) == 0)
        for index in 0..<7 { _ = try nodes[index % 3].incrementCounter("failed-login 192.0.2.20", window: 3600) }
        _ = try nodes[1].incrementCounter("failed-login 192.0.2.21", window: 3600)
        _ = try nodes[1].incrementCounter("failed-login 192.0.2.20", window: 60)
        let current = try nodes[2].recentCount("failed-login 192.0.2.20", window: 3600)
        let fraction = try nodes[0].pool.withConnection { (link) throws(StoreError) -> Double in
            // The previous window (100 failures) and the one before it (1,000, all outside).
            try link.run(
                """
                INSERT INTO rate_counter (key, window_start, window_seconds, count)
                SELECT 'failed-login 192.0.2.20', floor(extract(epoch from now())::float8 / 3600) * 3600 - w, 3600, c
                FROM (VALUES (3600::float8, 100), (7200::float8, 1000)) AS old(w, c)
                """)
            guard let row = try link.query("SELECT extract(epoch from now())::float8 / 3600 - floor(extract(epoch from now())::float8 / 3600)").first
            else { throw StoreError(.database, "no clock") }
            return try PostgresTransferStore.value(row, as: Double.self)
        }
        let sliding = try nodes[1].recentCount("failed-login 192.0.2.20", window: 3600)
        let expected = 7 + Int64((100 * (1 - fraction)).rounded(.up))
        #expect(current == 7, "every node's failures in the open window, this key and length only")
        #expect(sliding <= expected && sliding >= expected - 1, "\(sliding) against \(expected): the previous window's share, not older ones")
        #expect(throws: StoreError(.database, "")) { try nodes[0].recentCount("x", window: 0) }
    }

    @Test func anUnreachableDatabaseFailsWithinTheDeadline() throws {
        var settings = try PostgresSettings(url: "postgres://sealdrop@127.0.0.1:1/postgres")
        settings.callTimeout = 2
        let started = Date()
        #expect(throws: StoreError(.database, "")) { try PostgresTransferStore(settings: settings) }
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func urlsParseAndBadOnesAreRefused() throws {
        let plain = try PostgresSettings(url: "postgres://alice:s3cret@db.example:6543/sealdrop?schema=lab_one&sslmode=require")
        #expect(plain.host == "db.example")
        #expect(plain.port == 6543)
        #expect(plain.username == "alice")
        #expect(plain.password == "s3cret")
        #expect(plain.database == "sealdrop")
        #expect(plain.schema == "lab_one")
        #expect(plain.requireTLS)
        let socket = try PostgresSettings(url: "postgresql://sealdrop@/meta?host=/run/postgresql")
        #expect(socket.socketDirectory == "/run/postgresql")
        #expect(PostgresSettings.redacted("postgres://alice:s3cret@h/db").contains("s3cret") == false)
        for bad in [
            "mysql://a@h/db", "postgres://h/db", "postgres://a@h/", "postgres://a@h/db?schema=x;drop", "postgres://a@h/db?sslmode=maybe",
            "not a url",
        ] {
            #expect(throws: StoreError(.database, ""), "\(bad)") { try PostgresSettings(url: bad) }
        }
    }
}
