import Dispatch
import Foundation
@testable import SealdropStore
import Synchronization
import Testing
import TestSupport

/// Claims are leases: held while renewed, taken over (with their served
/// ranges) once lapsed, never held by two sessions, never taken again once
/// every byte went out.
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

    @Test(arguments: StoreEngine.all) func aLapsedClaimIsTakenOverWithItsServedRanges(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", store)
        _ = try claim("aa", "s1", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<40]), now: now)
        #expect(throws: StoreError(.alreadyClaimed, "")) { try claim("aa", "s2", at: 59, store) }
        let taken = try claim("aa", "s2", at: 61, store)
        #expect(taken.claimedBy == "s2")
        #expect(taken.served.ranges == [0..<40], "the resume starts from what was served")
        #expect(taken.leaseExpiresAt == now.addingTimeInterval(121))
        // The first holder has lost it: it can neither record nor renew nor deliver.
        #expect(throws: StoreError(.notClaimed, "")) { try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([40..<100]), now: now) }
        #expect(throws: StoreError(.notClaimed, "")) { try store.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(62)) }
        #expect(try store.events().last?.detail.contains("took over a lapsed claim with 40 bytes served") == true)
    }

    @Test(arguments: StoreEngine.all) func renewingAndServingKeepTheClaim(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", store)
        _ = try claim("aa", "s1", at: 0, store)
        #expect(try store.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(50)) == now.addingTimeInterval(110))
        #expect(throws: StoreError(.alreadyClaimed, "")) { try claim("aa", "s2", at: 100, store) }
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<10]), now: now.addingTimeInterval(100))
        #expect(throws: StoreError(.alreadyClaimed, "")) { try claim("aa", "s2", at: 150, store) }
        #expect(try claim("aa", "s2", at: 161, store).claimedBy == "s2")
    }

    @Test(arguments: StoreEngine.all) func sessionsRacingForALapsedClaimNeverBothHoldIt(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", store)
        _ = try claim("aa", "s-old", at: 0, store)
        let winners = Mutex([String]())
        let later = now.addingTimeInterval(61)
        DispatchQueue.concurrentPerform(iterations: 24) { index in
            // The old holder keeps trying to record while the others race to take over.
            if index % 6 == 0 {
                _ = try? store.recordServed(id: "aa", session: "s-old", ranges: ServedRanges([0..<1]), now: later)
                return
            }
            let session = "s\(index)"
            let claimed = TransferEvent(time: later, kind: .claimed, actor: "t", sourceAddress: "")
            if (try? store.claim(id: "aa", recipient: "newvendor", session: session, now: later, event: claimed)) != nil {
                winners.withLock { $0.append(session) }
            }
        }
        let holder = try #require(try store.transfer(id: "aa")?.claimedBy)
        let won = winners.withLock { $0 }
        #expect(won.count <= 1, "\(won)")
        #expect(won.isEmpty ? holder == "s-old" : won == [holder], "the row names the one winner")
    }

    @Test(arguments: StoreEngine.all) func aFullyServedClaimIsNeverClaimedAgainAndSettlesAsADelivery(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 100, store)
        _ = try claim("aa", "s1", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<100]), now: now)
        try store.release(id: "aa", session: "s1", event: event(.released, "aa"))
        #expect(try store.transfer(id: "aa")?.state == .claimed, "every byte went out: never available again")
        #expect(throws: StoreError(.notFound, "")) { try claim("aa", "s2", at: 3600, store) }
        #expect(throws: StoreError(.notFound, "")) { try claim("aa", "s1", at: 1, store) }
        // The periodic sweep leaves a live lease to its holder; start-up does not wait.
        #expect(try store.settleServedClaims(now: now.addingTimeInterval(10), lapsedOnly: true).isEmpty)
        let reopened = try fixture.reopen()
        let settled = try reopened.settleServedClaims(now: now.addingTimeInterval(10), lapsedOnly: false)
        #expect(settled.map(\.id) == ["aa"])
        #expect(settled.first?.blob == "blob-aa")
        #expect(try reopened.transfer(id: "aa")?.state == .delivered)
        #expect(try reopened.pendingBlobs().isEmpty)
        #expect(Array(try reopened.events().map(\.kind).suffix(2)) == [.delivered, .deleted])
        #expect(throws: StoreError(.notFound, "")) { try claim("aa", "s3", at: 20, store) }
        #expect(try reopened.settleServedClaims(now: now.addingTimeInterval(20), lapsedOnly: false).isEmpty, "settled once")
    }

    @Test(arguments: StoreEngine.all) func aPartialClaimIsNotSettledButWaitsForItsLease(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine, claimLease: 60)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try publish("aa", size: 100, store)
        _ = try claim("aa", "s1", at: 0, store)
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<99]), now: now)
        #expect(try store.settleServedClaims(now: now.addingTimeInterval(1000), lapsedOnly: false).isEmpty)
        #expect(try claim("aa", "s2", at: 61, store).served.ranges == [0..<99])
        try store.recordServed(id: "aa", session: "s2", ranges: ServedRanges([99..<100]), now: now.addingTimeInterval(62))
        #expect(try store.settleServedClaims(now: now.addingTimeInterval(200), lapsedOnly: true).map(\.id) == ["aa"])
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
        #expect(try store.transfer(id: "aa")?.served.ranges.count == limit, "the refused write changed nothing")
        // Filling the gaps merges them: sequential progress is never refused.
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<UInt64(4 * limit)]), now: now)
        #expect(try store.transfer(id: "aa")?.served.ranges == [0..<UInt64(4 * limit)])
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
