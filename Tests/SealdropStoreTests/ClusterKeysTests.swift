import Dispatch
import SealdropStore
import Synchronization
import Testing
import TestSupport

/// `clusterKeys(record:)`: the first node's fingerprints are kept; every
/// later call, from any connection, gets them back.
@Suite struct ClusterKeysTests {
    @Test func theFirstRecordWinsAndIsKept() throws {
        let directory = try TemporaryDirectory()
        let first = ClusterKeys(hostKey: "SHA256:host-one", receiptKey: "SHA256:receipt-one")
        let other = ClusterKeys(hostKey: "SHA256:host-two", receiptKey: "SHA256:receipt-two")
        let store = try SQLiteTransferStore(path: directory.file("metadata.sqlite"))
        #expect(try store.clusterKeys(record: first) == first)
        #expect(try store.clusterKeys(record: other) == first)
        let reopened = try SQLiteTransferStore(path: directory.file("metadata.sqlite"))
        #expect(try reopened.clusterKeys(record: other) == first, "kept across restarts")
    }

    @Test func nodesStartingTogetherAgreeOnOneRecord() throws {
        let directory = try TemporaryDirectory()
        let stores = try (0..<8).map { _ in try SQLiteTransferStore(path: directory.file("metadata.sqlite")) }
        let answers = Mutex<[ClusterKeys]>([])
        DispatchQueue.concurrentPerform(iterations: stores.count) { index in
            let mine = ClusterKeys(hostKey: "SHA256:host-\(index)", receiptKey: "SHA256:receipt-\(index)")
            if let recorded = try? stores[index].clusterKeys(record: mine) { answers.withLock { $0.append(recorded) } }
        }
        let all = answers.withLock { $0 }
        #expect(all.count == stores.count)
        #expect(Set(all.map(\.hostKey)).count == 1, "every node got the same record")
        #expect(all.first.map { $0.hostKey.dropFirst("SHA256:host-".count) == $0.receiptKey.dropFirst("SHA256:receipt-".count) } == true)
    }
}
