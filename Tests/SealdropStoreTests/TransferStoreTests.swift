import Dispatch
import Foundation
import SealdropLog
import SealdropStore
import Synchronization
import Testing
import TestSupport

/// The store's contract, run against every engine (SQLite, PostgreSQL).
@Suite struct TransferStoreTests {
    let now = Sample.now
    func transfer(_ id: String, size: UInt64 = 100, expires: TimeInterval = 3600) -> Transfer { Sample.transfer(id, size: size, expires: expires) }
    func event(_ kind: TransferEvent.Kind, _ id: String? = nil) -> TransferEvent { Sample.event(kind, id) }

    @Test(arguments: StoreEngine.all) func publishThenListOnlyForTheRecipient(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa"), event: event(.uploadPublished, "aa"))
        #expect(try store.inbox(recipient: "newvendor").map(\.id) == ["aa"])
        #expect(try store.inbox(recipient: "stranger").isEmpty)
        #expect(try store.sent(by: "oldvendor").map(\.state) == [.available])
        #expect(try store.involving("newvendor").map(\.id) == ["aa"])
        #expect(try store.pendingUsage(sender: "oldvendor") == (100, 1))
        #expect(try store.pendingBlobs() == ["blob-aa"])
        #expect(try store.transfer(id: "aa") == transfer("aa"), "every field round-trips")
    }

    /// Processes and nodes sharing a database each check for a statement
    /// before recording one; the database refuses the second of a race.
    @Test(arguments: StoreEngine.all) func theDatabaseHoldsOneStatementOfEachKindPerTransfer(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa"), event: event(.uploadPublished, "aa"))
        try store.record(event(.acknowledged, "aa"))
        try store.record(event(.declared, "aa"))
        #expect(throws: StoreError.self) { try store.record(self.event(.acknowledged, "aa")) }
        #expect(throws: StoreError.self) { try store.record(self.event(.declared, "aa")) }
        try store.record(event(.acknowledged, "bb"))
        try store.record([event(.loginRefused), event(.loginRefused)])
        #expect(try store.events().map(\.kind) == [.uploadPublished, .acknowledged, .declared, .acknowledged, .loginRefused, .loginRefused])
        #expect(try store.events().map(\.sequence) == Array(1...6), "a refused statement leaves no gap")
    }

    @Test(arguments: StoreEngine.all) func aReplayedTransferIDIsRefusedEvenAfterDelivery(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa", size: 0), event: event(.uploadPublished))
        #expect(throws: StoreError(.duplicateTransfer, "")) { try store.publish(transfer("aa"), event: event(.uploadPublished)) }
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        _ = try store.deliver(id: "aa", session: "s1", now: now, event: event(.delivered))
        #expect(throws: StoreError(.duplicateTransfer, "")) { try store.publish(transfer("aa"), event: event(.uploadPublished)) }
        #expect(try store.events().count == 3, "a refused publish logs nothing")
    }

    @Test(arguments: StoreEngine.all) func concurrentClaimsOfTheRecipientShareOneClaim(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa"), event: event(.uploadPublished))
        let joined = Mutex(0)
        let now = self.now
        DispatchQueue.concurrentPerform(iterations: 20) { index in
            let claimed =
                (try? store.claim(
                    id: "aa", recipient: "newvendor", session: "s\(index)", now: now,
                    event: TransferEvent(time: now, kind: .claimed, actor: "t", sourceAddress: ""))) != nil
            if claimed { joined.withLock { $0 += 1 } }
        }
        #expect(joined.withLock { $0 } == 20)
        #expect(try store.transfer(id: "aa")?.state == .claimed)
        #expect(try store.events().filter { $0.kind == .claimed }.count == 20, "one entry per handle")
    }

    @Test(arguments: StoreEngine.all) func claimsAreRefusedToOthersAndAfterExpiry(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa"), event: event(.uploadPublished))
        #expect(throws: StoreError(.notFound, "")) {
            try store.claim(id: "aa", recipient: "stranger", session: "s1", now: now, event: event(.claimed))
        }
        #expect(throws: StoreError(.expired, "")) {
            try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now.addingTimeInterval(7200), event: event(.claimed))
        }
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        #expect(throws: StoreError(.notFound, "")) {
            try store.claim(id: "aa", recipient: "stranger", session: "s2", now: now, event: event(.claimed))
        }
    }

    @Test(arguments: StoreEngine.all) func anInterruptedDownloadResumesAndDeliversOnlyWhenComplete(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa", size: 100), event: event(.uploadPublished))
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([50..<100]), now: now)
        #expect(throws: StoreError(.incomplete, "")) { try store.deliver(id: "aa", session: "s1", now: now, event: event(.delivered)) }
        // CLOSEd part-way: its ranges count, for a resume.
        let closed = try store.close(
            id: "aa", session: "s1", now: now, delivered: event(.delivered), deletion: event(.deleted), released: event(.released))
        #expect(closed.state == .available)
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s2", now: now, event: event(.claimed))
        #expect(throws: StoreError(.notClaimed, "")) { try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<50]), now: now) }
        #expect(throws: StoreError(.notClaimed, "")) { try store.deliver(id: "aa", session: "s1", now: now, event: event(.delivered)) }
        try store.recordServed(id: "aa", session: "s2", ranges: ServedRanges([0..<60]), now: now)
        let delivered = try store.deliver(id: "aa", session: "s2", now: now, event: event(.delivered))
        #expect(delivered.state == .delivered)
        #expect(delivered.endedAt == now)
        #expect(try store.inbox(recipient: "newvendor").isEmpty)
        #expect(try store.pendingBlobs().isEmpty)
    }

    @Test(arguments: StoreEngine.all) func onlyTheSenderRevokesAndOnlyWhileAvailable(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa"), event: event(.uploadPublished))
        try store.publish(transfer("bb"), event: event(.uploadPublished))
        #expect(throws: StoreError(.notFound, "")) { try store.revoke(id: "aa", sender: "newvendor", now: now, event: event(.revoked)) }
        #expect(try store.revoke(id: "aa", sender: "oldvendor", now: now, event: event(.revoked)).state == .revoked)
        _ = try store.claim(id: "bb", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        #expect(throws: StoreError(.notRevocable, "")) { try store.revoke(id: "bb", sender: "oldvendor", now: now, event: event(.revoked)) }
    }

    @Test(arguments: StoreEngine.all) func expiryEndsPendingTransfersAndIsRecorded(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa", expires: 10), event: event(.uploadPublished))
        try store.publish(transfer("bb", expires: 1000), event: event(.uploadPublished))
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        let expired = try store.expire(now: now.addingTimeInterval(10))
        #expect(expired.map(\.id) == ["aa"])
        #expect(expired.first?.state == .expired)
        #expect(try store.transfer(id: "aa")?.state == .expired)
        #expect(try store.inbox(recipient: "newvendor").map(\.id) == ["bb"])
        #expect(try store.events().map(\.kind) == [.uploadPublished, .uploadPublished, .claimed, .expired, .deleted])
        #expect(try store.expire(now: now.addingTimeInterval(20)).isEmpty, "expired once")
    }

    @Test(arguments: StoreEngine.all) func reopeningKeepsClaimsForTheirLease(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        try fixture.store.publish(transfer("aa"), event: event(.uploadPublished))
        _ = try fixture.store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        let reopened = try fixture.reopen()
        #expect(try reopened.transfer(id: "aa")?.state == .claimed)
        #expect(try reopened.claim(id: "aa", recipient: "newvendor", session: "s2", now: now.addingTimeInterval(30), event: event(.claimed)).claimedBy == "s2")
        #expect(try reopened.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(30)) == now.addingTimeInterval(90), "s1's handle held")
        _ = try reopened.claim(id: "aa", recipient: "newvendor", session: "s3", now: now.addingTimeInterval(91), event: event(.claimed))
        #expect(throws: StoreError(.notClaimed, "")) { try reopened.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(91)) }
    }

    @Test(arguments: StoreEngine.all) func theLogKeepsEntryBytesLeavesAndItsTransferIndex(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        try store.publish(transfer("aa"), event: event(.uploadPublished, "aa"))
        try store.record([event(.loginRefused), event(.refusedClaim, "bb")])
        try store.record([])
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed, "aa"))
        let events = try store.events()
        #expect(events.map(\.sequence) == [1, 2, 3, 4])
        #expect(events.first?.recipient == "newvendor", "the store names the recipient of a published upload")
        let entries = try store.logEntries()
        #expect(entries == events.map { Array($0.logEntry(sequence: $0.sequence!).encoded()) }, "entry bytes as recorded")
        #expect(try store.logLeafHashes() == entries.map { MerkleTree.leafHash($0) })
        #expect(try store.logEntries(transfer: "aa").map(\.index) == [0, 3])
        #expect(try store.logEntries(transfer: "aa").map(\.entry) == [entries[0], entries[3]])
        #expect(try store.logEntries(transfer: "zz").isEmpty)
    }

    @Test func servedRangesMerge() {
        var ranges = ServedRanges()
        ranges.insert(10..<20)
        ranges.insert(30..<40)
        #expect(!ranges.covers(40))
        ranges.insert(0..<10)
        ranges.insert(15..<35)
        #expect(ranges.ranges == [0..<40])
        #expect(ranges.covers(40))
        #expect(!ranges.covers(41))
        #expect(ServedRanges().covers(0))
    }
}
