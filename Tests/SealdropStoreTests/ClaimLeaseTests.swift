import Dispatch
import Foundation
@testable import SealdropStore
import Synchronization
import Testing
import TestSupport

/// A recipient's claim is shared by its open handles, each a lease of its
/// own: ranges count towards delivery only from CLOSEd handles, a handle
/// lost or lapsed ends with its ranges uncounted, and however many handles
/// close at once the transfer is delivered exactly once.
///
/// Run on every engine (SQLite, PostgreSQL); the last tests are SQLite's own.
@Suite struct ClaimLeaseTests {
    let now = Sample.now

    func publish(_ id: String, size: UInt64 = 100, _ store: any TransferStore) throws {
        try store.publish(
            Transfer(
                id: id, sender: "oldvendor", recipient: "newvendor", size: size, ciphertextSHA256: String(repeating: "ab", count: 32),
                uploadedAt: now, expiresAt: now.addingTimeInterval(86_400), blob: "blob-" + id),
            event: event(.uploadPublished, id))
    }

    func event(_ kind: TransferEvent.Kind, _ id: String? = nil) -> TransferEvent {
        TransferEvent(time: now, kind: kind, actor: "test", sourceAddress: "127.0.0.1", transferID: id)
    }

    func claim(_ id: String, _ session: String, at seconds: TimeInterval, _ store: any TransferStore) throws -> Transfer {
        try store.claim(id: id, recipient: "newvendor", session: session, now: now.addingTimeInterval(seconds), event: event(.claimed, id))
    }

    @Test func aTransferFullyServedBeforeLeasesIsSettledNotServedAgain() throws {
        // A database from before leases: a pending transfer whose every byte
        // was served, released back to available by the old rules.
        let fixture = try StoreFixture(.sqlite)
        defer { withExtendedLifetime(fixture) {} }
        let directory = fixture.directory
        try publish("ab", fixture.store)
        let served = try SQLiteTransferStore.encode(ServedRanges([0..<100]))
        let database = directory.file("metadata.sqlite")
        let downgraded = try Subprocess.run(
            "/usr/bin/sqlite3",
            [
                database,
                "UPDATE transfer SET state = 'available', served = '\(served)', servedComplete = 0 WHERE id = 'ab'; "
                    + "DELETE FROM grdb_migrations WHERE identifier = 'v5-settle-served-before-leases';",
            ])
        #expect(downgraded.status == 0, "\(downgraded.standardError)")

        let upgraded = try SQLiteTransferStore(path: database, claimLease: 60)
        #expect(throws: StoreError.self) {
            try upgraded.claim(id: "ab", recipient: "newvendor", session: "s2", now: now, event: event(.claimed, "ab"))
        }
        #expect(try upgraded.settleServedClaims(now: now, lapsedOnly: false).map(\.id) == ["ab"])
        #expect(try upgraded.transfer(id: "ab")?.state == .delivered)
    }

    func close(_ id: String, _ session: String, at seconds: TimeInterval = 0, _ store: any TransferStore) throws -> Transfer {
        let time = now.addingTimeInterval(seconds)
        return try store.close(
            id: id, session: session, now: time, delivered: event(.delivered, id),
            deletion: TransferEvent(time: time, kind: .deleted, actor: "test", sourceAddress: "", transferID: id, detail: "delivered"),
            released: event(.released, id))
    }

    @Test(arguments: StoreEngine.all) func aLapsedHandleEndsUncountedWhenTheRecipientOpensAnother(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", store)
        _ = try claim("aa", "s1", at: 0, store)
        // s1's client is given every byte, then throws them away and goes silent.
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<100]), now: now)
        let joined = try claim("aa", "s2", at: 59, store)
        #expect(joined.served.ranges.isEmpty, "another handle's ranges are never handed over")
        #expect(joined.state == .claimed)
        let later = try claim("aa", "s3", at: 61, store)
        #expect(later.served.ranges.isEmpty)
        #expect(try store.events().last?.detail.contains("1 lapsed handle(s) ended without CLOSE; their reads do not count") == true)
        // The lapsed handle is gone: it can neither record nor renew nor close.
        #expect(throws: StoreError(.notClaimed, "")) { try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<1]), now: now) }
        #expect(throws: StoreError(.notClaimed, "")) { try store.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(62)) }
        #expect(throws: StoreError(.notClaimed, "")) { try close("aa", "s1", store) }
        // The live handles read part of it and CLOSE: nothing is delivered.
        try store.recordServed(id: "aa", session: "s2", ranges: ServedRanges([0..<10]), now: now.addingTimeInterval(62))
        #expect(try close("aa", "s2", at: 62, store).state == .claimed)
        #expect(try close("aa", "s3", at: 62, store).state == .available, "s1's 100 bytes never counted")
        #expect(try store.transfer(id: "aa")?.served.ranges == [0..<10])
        #expect(!(try store.events().contains { $0.kind == .delivered }))
    }

    @Test(arguments: StoreEngine.all) func renewingAndServingKeepTheHandle(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", store)
        _ = try claim("aa", "s1", at: 0, store)
        #expect(try store.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(50)) == now.addingTimeInterval(110))
        _ = try claim("aa", "s2", at: 100, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<10]), now: now.addingTimeInterval(100))
        _ = try claim("aa", "s3", at: 159, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([10..<20]), now: now.addingTimeInterval(159))
        // s2 lapsed at 160; s1 renewed to 219.
        _ = try claim("aa", "s4", at: 161, store)
        #expect(throws: StoreError(.notClaimed, "")) { try store.renewClaim(id: "aa", session: "s2", now: now.addingTimeInterval(161)) }
        #expect(try store.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(161)) == now.addingTimeInterval(221))
    }

    @Test(arguments: StoreEngine.all) func handlesClosingAtOnceDeliverExactlyOnce(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 100, store)
        let now = self.now
        let sessions = (0..<16).map { "s\($0)" }
        for session in sessions { _ = try claim("aa", session, at: 0, store) }
        let delivered = Mutex([String]())
        DispatchQueue.concurrentPerform(iterations: sessions.count) { index in
            let session = sessions[index]
            // Each handle serves its sixteenth, as a multi-stream client does.
            let start = UInt64(index) * 100 / 16
            let end = UInt64(index + 1) * 100 / 16
            guard (try? store.recordServed(id: "aa", session: session, ranges: ServedRanges([start..<end]), now: now)) != nil else { return }
            let ended = try? store.close(
                id: "aa", session: session, now: now, delivered: TransferEvent(time: now, kind: .delivered, actor: "t", sourceAddress: ""),
                deletion: TransferEvent(time: now, kind: .deleted, actor: "t", sourceAddress: ""),
                released: TransferEvent(time: now, kind: .released, actor: "t", sourceAddress: ""))
            if ended?.state == .delivered { delivered.withLock { $0.append(session) } }
        }
        #expect(delivered.withLock { $0.count } == 1)
        #expect(try store.transfer(id: "aa")?.state == .delivered)
        #expect(try store.events().filter { $0.kind == .delivered }.count == 1)
        #expect(try store.events().filter { $0.kind == .deleted }.count == 1)
    }

    @Test(arguments: StoreEngine.all) func aHandleCutAfterEveryByteIsNotADelivery(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 100, store)
        _ = try claim("aa", "s1", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<100]), now: now)
        try store.release(id: "aa", session: "s1", event: event(.released, "aa"))
        #expect(try store.transfer(id: "aa")?.state == .available)
        #expect(try store.events().last?.detail.contains("its 100 bytes served do not count") == true)
        #expect(try store.settleServedClaims(now: now.addingTimeInterval(1000), lapsedOnly: false).isEmpty)
        // The recipient downloads it again, and this time CLOSEs.
        _ = try claim("aa", "s2", at: 1, store)
        try store.recordServed(id: "aa", session: "s2", ranges: ServedRanges([0..<100]), now: now)
        #expect(try close("aa", "s2", store).state == .delivered)
        #expect(try store.pendingBlobs().isEmpty)
    }

    @Test(arguments: StoreEngine.all) func closedHandlesCoveringTheFileBarNewHandlesAndSettleWhenTheRestIsLost(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 100, store)
        _ = try claim("aa", "s1", at: 0, store)
        _ = try claim("aa", "s2", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<100]), now: now)
        #expect(try close("aa", "s1", store).state == .claimed, "s2 is still open")
        #expect(try store.transfer(id: "aa")?.fullyServed == true)
        #expect(throws: StoreError(.notFound, "")) { try claim("aa", "s3", at: 1, store) }
        // The recipient has had every byte: the handle still open gets no more.
        #expect(throws: StoreError(.notClaimed, "")) {
            try store.recordServed(id: "aa", session: "s2", ranges: ServedRanges([0..<10]), now: now)
        }
        // s2 is lost: the CLOSEd handle's ranges still cover the file.
        try store.release(id: "aa", session: "s2", event: event(.released, "aa"))
        let settled = try store.settleServedClaims(now: now.addingTimeInterval(1), lapsedOnly: true)
        #expect(settled.map(\.id) == ["aa"])
        #expect(settled.first?.blob == "blob-aa")
        #expect(try store.transfer(id: "aa")?.state == .delivered)
        #expect(try store.pendingBlobs().isEmpty)
        #expect(Array(try store.events().map(\.kind).suffix(2)) == [.delivered, .deleted])
        #expect(try store.settleServedClaims(now: now.addingTimeInterval(20), lapsedOnly: false).isEmpty, "settled once")
    }

    @Test(arguments: StoreEngine.all) func openHandlesWaitForTheirLeaseAndEndUncountedAtStartUp(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 100, store)
        try publish("bb", size: 100, store)
        _ = try claim("aa", "s1", at: 0, store)
        _ = try claim("bb", "s1", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<100]), now: now)
        try store.recordServed(id: "bb", session: "s1", ranges: ServedRanges([0..<99]), now: now)
        #expect(try store.settleServedClaims(now: now.addingTimeInterval(10), lapsedOnly: true).isEmpty)
        #expect(try store.transfer(id: "aa")?.state == .claimed, "a live lease is left to its holder")
        // A restart: no handle survived, none counts.
        let reopened = try fixture.reopen()
        #expect(try reopened.settleServedClaims(now: now.addingTimeInterval(10), lapsedOnly: false).isEmpty)
        #expect(try reopened.transfer(id: "aa")?.state == .available)
        #expect(try reopened.transfer(id: "bb")?.state == .available)
        #expect(try claim("aa", "s2", at: 20, store).served.ranges.isEmpty)
    }

    @Test(arguments: StoreEngine.all) func anAcknowledgmentDeliversAResumedTransferAtOnce(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 100, store)
        _ = try claim("aa", "s1", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<60]), now: now)
        try store.release(id: "aa", session: "s1", event: event(.released, "aa"))
        _ = try claim("aa", "s2", at: 1, store)
        try store.recordServed(id: "aa", session: "s2", ranges: ServedRanges([60..<100]), now: now)
        #expect(try close("aa", "s2", store).state == .available, "only the tail was counted")
        _ = try claim("aa", "s3", at: 2, store)
        let deletion = TransferEvent(time: now, kind: .deleted, actor: "test", sourceAddress: "", transferID: "aa", detail: "delivered")
        #expect(throws: StoreError(.notFound, "")) {
            try store.acknowledge(
                id: "aa", recipient: "oldvendor", now: now, acknowledgment: event(.acknowledged, "aa"), delivered: event(.delivered, "aa"),
                deletion: deletion)
        }
        let delivered = try store.acknowledge(
            id: "aa", recipient: "newvendor", now: now, acknowledgment: event(.acknowledged, "aa"), delivered: event(.delivered, "aa"),
            deletion: deletion)
        #expect(delivered?.state == .delivered)
        #expect(Array(try store.events().map(\.kind).suffix(3)) == [.delivered, .deleted, .acknowledged])
        #expect(throws: StoreError(.notClaimed, "")) { try store.recordServed(id: "aa", session: "s3", ranges: ServedRanges([0..<1]), now: now) }
        // A second acknowledgment is refused by the database and changes nothing.
        let logged = try store.events().count
        #expect(throws: StoreError.self) {
            try store.acknowledge(
                id: "aa", recipient: "newvendor", now: now, acknowledgment: event(.acknowledged, "aa"), delivered: event(.delivered, "aa"),
                deletion: deletion)
        }
        #expect(try store.events().count == logged)
        #expect(try store.events().filter { $0.kind == .delivered }.count == 1)
    }

    @Test(arguments: StoreEngine.all) func scatteredReadsAreRefusedBeyondTheBound(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        let limit = ServedRanges.maximumRanges
        try publish("aa", size: UInt64(4 * limit), store)
        _ = try claim("aa", "s1", at: 0, store)
        let spread = ServedRanges((0..<UInt64(limit)).map { ($0 * 4)..<($0 * 4 + 1) })
        try store.recordServed(id: "aa", session: "s1", ranges: spread, now: now)
        #expect(throws: StoreError(.tooScattered, "")) {
            try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([2..<3]), now: now)
        }
        // Filling the gaps merges them: sequential progress is never refused.
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<UInt64(4 * limit)]), now: now)
        #expect(try close("aa", "s1", store).state == .delivered, "the refused write changed nothing; the gaps filled in")
    }

    /// Each handle is bounded, so a recipient scattering reads over many
    /// connections must not grow the counted set without bound at CLOSE.
    @Test(arguments: StoreEngine.all) func scatteredReadsOverManyHandlesAreBoundedAtClose(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        let limit = UInt64(ServedRanges.maximumRanges)
        try publish("aa", size: 4 * limit, store)
        _ = try claim("aa", "s1", at: 0, store)
        _ = try claim("aa", "s2", at: 0, store)
        _ = try claim("aa", "s3", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges((0..<limit).map { ($0 * 4)..<($0 * 4 + 1) }), now: now)
        try store.recordServed(id: "aa", session: "s2", ranges: ServedRanges((0..<limit).map { ($0 * 4 + 2)..<($0 * 4 + 3) }), now: now)
        #expect(try close("aa", "s1", store).state == .claimed)
        #expect(throws: StoreError(.tooScattered, "")) { try close("aa", "s2", store) }
        // The refused CLOSE changed nothing: s2 is still open, and a handle
        // that read the file in order still delivers once both are closed.
        try store.recordServed(id: "aa", session: "s3", ranges: ServedRanges([0..<(4 * limit)]), now: now)
        #expect(try close("aa", "s3", store).state == .claimed, "s2 is still open")
        try store.release(id: "aa", session: "s2", event: event(.released, "aa"))
        #expect(try store.settleServedClaims(now: now.addingTimeInterval(1), lapsedOnly: true).map(\.id) == ["aa"])
    }

    @Test func servedRangesMergeInOnePassAsOneByOne() {
        var seed: UInt64 = 0x5EA1_D809
        func next(_ bound: UInt64) -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (seed >> 33) % bound
        }
        for _ in 0..<200 {
            var one = ServedRanges()
            var other = ServedRanges()
            // The reference: every byte marked, then read back as runs.
            var marked = [Bool](repeating: false, count: 1_040)
            for _ in 0..<next(40) {
                let start = next(1_000)
                let range = start..<(start + next(30))
                if next(2) == 0 { one.insert(range) } else { other.insert(range) }
                for byte in range { marked[Int(byte)] = true }
            }
            var runs = [Range<UInt64>]()
            for (byte, isMarked) in marked.enumerated() where isMarked {
                if let last = runs.last, last.upperBound == UInt64(byte) {
                    runs[runs.count - 1] = last.lowerBound..<(last.upperBound + 1)
                } else {
                    runs.append(UInt64(byte)..<(UInt64(byte) + 1))
                }
            }
            var union = one
            union.formUnion(other)
            #expect(union.ranges == runs)
            for (a, b) in zip(union.ranges, union.ranges.dropFirst()) { #expect(a.upperBound < b.lowerBound, "sorted, disjoint, not touching") }
        }
    }

    @Test(arguments: StoreEngine.all) func everyEndOfLifeCommitsItsDeletionWithIt(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 10, store)
        try publish("bb", store)
        _ = try claim("aa", "s1", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<10]), now: now)
        let deletion = TransferEvent(time: now, kind: .deleted, actor: "test", sourceAddress: "", transferID: "aa", detail: "delivered")
        #expect(try store.deliver(id: "aa", session: "s1", now: now, event: event(.delivered, "aa"), deletion: deletion).state == .delivered)
        #expect(Array(try store.events().map(\.kind).suffix(2)) == [.delivered, .deleted])
        _ = try store.revoke(
            id: "bb", sender: "oldvendor", now: now, event: event(.revoked, "bb"),
            deletion: TransferEvent(time: now, kind: .deleted, actor: "test", sourceAddress: "", transferID: "bb"))
        #expect(Array(try store.events().map(\.kind).suffix(2)) == [.revoked, .deleted])
        // A refused end writes neither entry.
        let before = try store.events().count
        #expect(throws: StoreError(.notRevocable, "")) {
            try store.revoke(id: "bb", sender: "oldvendor", now: now, event: event(.revoked, "bb"), deletion: deletion)
        }
        #expect(try store.events().count == before)
    }

    @Test func servedRangesKeepTheirStoredFormAndBadTextNeverTraps() throws {
        let served = ServedRanges([0..<131_072, 262_144..<393_216, UInt64.max - 1..<UInt64.max])
        let foundation = String(decoding: try JSONEncoder().encode(served), as: UTF8.self)
        #expect(try SQLiteTransferStore.encode(served) == foundation, "rows written before and after read the same")
        #expect(SQLiteTransferStore.parseServed(Array(foundation.utf8)) == served)
        #expect(try SQLiteTransferStore.decodeServed("{\"ranges\":[]}") == ServedRanges())
        #expect(try SQLiteTransferStore.decodeServed("{ \"ranges\" : [ [1, 2] ] }") == ServedRanges([1..<2]), "other spellings of the same JSON")
        for bad in ["", "{", "{\"ranges\":[[5,1]]}", "{\"ranges\":[[1,99999999999999999999]]}", "{\"ranges\":[[1]]}"] {
            #expect(throws: (any Error).self, "\(bad)") { try SQLiteTransferStore.decodeServed(bad) }
        }
    }

    /// Figures, not assertions: `SEALDROP_MEASURE=1 swift test --filter recordServedCost`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SEALDROP_MEASURE"] != nil), arguments: StoreEngine.all)
    func recordServedCost(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 1 << 40, store)
        _ = try claim("aa", "s1", at: 0, store)
        let count = 5000
        let start = DispatchTime.now().uptimeNanoseconds
        for index in 0..<count {
            let offset = UInt64(index) * 131_072
            try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([offset..<(offset + 131_072)]), now: now)
        }
        let micros = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(count)
        print("recordServed on \(engine): \(String(format: "%.1f", micros)) µs per call (\(count) sequential 128 KiB reads)")
    }
}
