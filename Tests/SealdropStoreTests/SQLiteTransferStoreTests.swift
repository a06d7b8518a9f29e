import Dispatch
import Foundation
import SealdropStore
import Synchronization
import Testing
import TestSupport

@Suite struct SQLiteTransferStoreTests {
    let directory: TemporaryDirectory
    let store: SQLiteTransferStore
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    init() throws {
        directory = try TemporaryDirectory()
        store = try SQLiteTransferStore(path: directory.file("metadata.sqlite"))
    }

    func transfer(
        _ id: String, size: UInt64 = 100, from sender: String = "oldvendor", to recipient: String = "newvendor",
        expires: TimeInterval = 3600
    ) -> Transfer {
        Transfer(
            id: id, sender: sender, recipient: recipient, size: size, ciphertextSHA256: String(repeating: "ab", count: 32),
            uploadedAt: now, expiresAt: now.addingTimeInterval(expires), blob: "blob-" + id)
    }

    func event(_ kind: TransferEvent.Kind, _ id: String? = nil) -> TransferEvent {
        TransferEvent(time: now, kind: kind, actor: "test", sourceAddress: "127.0.0.1", transferID: id)
    }

    @Test func publishThenListOnlyForTheRecipient() throws {
        try store.publish(transfer("aa"), event: event(.uploadPublished, "aa"))
        #expect(try store.inbox(recipient: "newvendor").map(\.id) == ["aa"])
        #expect(try store.inbox(recipient: "stranger").isEmpty)
        #expect(try store.sent(by: "oldvendor").map(\.state) == [.available])
        #expect(try store.pendingUsage(sender: "oldvendor") == (100, 1))
        #expect(try store.pendingBlobs() == ["blob-aa"])
    }

    @Test func aReplayedTransferIDIsRefusedEvenAfterDelivery() throws {
        try store.publish(transfer("aa", size: 0), event: event(.uploadPublished))
        #expect(throws: StoreError(.duplicateTransfer, "")) { try store.publish(transfer("aa"), event: event(.uploadPublished)) }
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        _ = try store.deliver(id: "aa", session: "s1", now: now, event: event(.delivered))
        #expect(throws: StoreError(.duplicateTransfer, "")) { try store.publish(transfer("aa"), event: event(.uploadPublished)) }
    }

    @Test func concurrentClaimsOfTheRecipientShareOneClaim() throws {
        try store.publish(transfer("aa"), event: event(.uploadPublished))
        let joined = Mutex(0)
        let store = self.store
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
    }

    @Test func claimsAreRefusedToOthersAndAfterExpiry() throws {
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

    @Test func anInterruptedDownloadResumesAndDeliversOnlyWhenComplete() throws {
        try store.publish(transfer("aa", size: 100), event: event(.uploadPublished))
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([50..<100]))
        #expect(throws: StoreError(.incomplete, "")) { try store.deliver(id: "aa", session: "s1", now: now, event: event(.delivered)) }
        // CLOSEd part-way: its ranges count, for a resume.
        let closed = try store.close(
            id: "aa", session: "s1", now: now, delivered: event(.delivered), deletion: event(.deleted), released: event(.released))
        #expect(closed.state == .available)
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s2", now: now, event: event(.claimed))
        #expect(throws: StoreError(.notClaimed, "")) { try store.recordServed(id: "aa", session: "s1", ranges: ServedRanges([0..<50])) }
        try store.recordServed(id: "aa", session: "s2", ranges: ServedRanges([0..<60]))
        let delivered = try store.deliver(id: "aa", session: "s2", now: now, event: event(.delivered))
        #expect(delivered.state == .delivered)
        #expect(try store.inbox(recipient: "newvendor").isEmpty)
        #expect(try store.pendingBlobs().isEmpty)
    }

    @Test func onlyTheSenderRevokesAndOnlyWhileAvailable() throws {
        try store.publish(transfer("aa"), event: event(.uploadPublished))
        try store.publish(transfer("bb"), event: event(.uploadPublished))
        #expect(throws: StoreError(.notFound, "")) { try store.revoke(id: "aa", sender: "newvendor", now: now, event: event(.revoked)) }
        #expect(try store.revoke(id: "aa", sender: "oldvendor", now: now, event: event(.revoked)).state == .revoked)
        _ = try store.claim(id: "bb", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        #expect(throws: StoreError(.notRevocable, "")) { try store.revoke(id: "bb", sender: "oldvendor", now: now, event: event(.revoked)) }
    }

    @Test func expiryEndsPendingTransfersAndIsRecorded() throws {
        try store.publish(transfer("aa", expires: 10), event: event(.uploadPublished))
        try store.publish(transfer("bb", expires: 1000), event: event(.uploadPublished))
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        let expired = try store.expire(now: now.addingTimeInterval(10))
        #expect(expired.map(\.id) == ["aa"])
        #expect(try store.transfer(id: "aa")?.state == .expired)
        #expect(try store.inbox(recipient: "newvendor").map(\.id) == ["bb"])
        #expect(try store.events().map(\.kind) == [.uploadPublished, .uploadPublished, .claimed, .expired, .deleted])
    }

    @Test func reopeningKeepsClaimsForTheirLease() throws {
        try store.publish(transfer("aa"), event: event(.uploadPublished))
        _ = try store.claim(id: "aa", recipient: "newvendor", session: "s1", now: now, event: event(.claimed))
        let reopened = try SQLiteTransferStore(path: directory.file("metadata.sqlite"))
        #expect(try reopened.transfer(id: "aa")?.state == .claimed)
        #expect(try reopened.claim(id: "aa", recipient: "newvendor", session: "s2", now: now.addingTimeInterval(30), event: event(.claimed)).claimedBy == "s2")
        #expect(try reopened.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(30)) == now.addingTimeInterval(90), "s1's handle held")
        _ = try reopened.claim(id: "aa", recipient: "newvendor", session: "s3", now: now.addingTimeInterval(91), event: event(.claimed))
        #expect(throws: StoreError(.notClaimed, "")) { try reopened.renewClaim(id: "aa", session: "s1", now: now.addingTimeInterval(91)) }
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
