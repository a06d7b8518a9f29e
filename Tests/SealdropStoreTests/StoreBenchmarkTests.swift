import Dispatch
import Foundation
import SealdropStore
import SealdropStorePostgres
import Synchronization
import Testing

/// Figures, not assertions (`ops/bench store`, or
/// `SEALDROP_MEASURE=1 swift test --filter StoreBenchmarkTests`): receipt-log
/// appends per second with one and several writers, claim latency, and for
/// PostgreSQL the statements (round trips) one transfer costs.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SEALDROP_MEASURE"] != nil), .serialized)
struct StoreBenchmarkTests {
    static let writers = 8

    /// Separate stores (PostgreSQL: separate nodes and connections), or one
    /// SQLite store shared by threads as one node's sessions share it.
    func writers(_ fixture: StoreFixture) throws -> [any TransferStore] {
        switch fixture.engine {
        case .sqlite: return Array(repeating: fixture.store, count: Self.writers)
        case .postgres: return try (0..<Self.writers).map { try fixture.reopen(node: "writer-\($0)") }
        }
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    @Test(arguments: StoreEngine.all) func appendsPerSecond(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let count = 2000
        let single = try Self.seconds {
            for _ in 0..<count { try fixture.store.record(Sample.event(.loginRefused)) }
        }
        let stores = try writers(fixture)
        let each = count / Self.writers
        let failures = Atomic<Int>(0)
        let parallel = Self.seconds {
            DispatchQueue.concurrentPerform(iterations: stores.count) { index in
                for _ in 0..<each {
                    do { try stores[index].record(Sample.event(.loginRefused)) } catch { failures.add(1, ordering: .relaxed) }
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(try fixture.store.logEntries().count == count + each * Self.writers)
        print(
            "store-bench \(engine): appends/s, 1 writer: \(Int(Double(count) / single)); \(Self.writers) writers: \(Int(Double(each * Self.writers) / parallel))"
        )
    }

    @Test(arguments: StoreEngine.all) func claimLatencyAndRoundTrips(_ engine: StoreEngine) throws {
        let fixture = try StoreFixture(engine)
        defer { withExtendedLifetime(fixture) {} }
        let store = fixture.store
        let count = 300
        for index in 0..<count { try store.publish(Sample.transfer("c\(index)"), event: Sample.event(.uploadPublished, "c\(index)")) }
        var latencies = [Double]()
        for index in 0..<count {
            latencies.append(
                try Self.seconds {
                    _ = try store.claim(id: "c\(index)", recipient: "newvendor", session: "s\(index)", now: Sample.now, event: Sample.event(.claimed))
                })
        }
        latencies.sort()
        let micros = { (q: Double) in Int(latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] * 1e6) }
        print("store-bench \(engine): claim latency µs: p50 \(micros(0.5)), p90 \(micros(0.9)), p99 \(micros(0.99))")

        guard let postgres = store as? PostgresTransferStore else { return }
        // One whole transfer: publish, claim, 8 recorded READs, deliver with its deletion.
        var steps = [(String, Int)]()
        func counted(_ name: String, _ body: () throws -> Void) rethrows {
            let before = postgres.statementCount
            try body()
            steps.append((name, postgres.statementCount - before))
        }
        let id = "rt"
        try counted("publish") { try store.publish(Sample.transfer(id, size: 8), event: Sample.event(.uploadPublished, id)) }
        try counted("claim") { _ = try store.claim(id: id, recipient: "newvendor", session: "s", now: Sample.now, event: Sample.event(.claimed)) }
        try counted("recordServed x8") {
            for offset in 0..<UInt64(8) { try store.recordServed(id: id, session: "s", ranges: ServedRanges([offset..<(offset + 1)]), now: Sample.now) }
        }
        let deletion = TransferEvent(time: Sample.now, kind: .deleted, actor: "server", sourceAddress: "", transferID: id)
        try counted("deliver") { _ = try store.deliver(id: id, session: "s", now: Sample.now, event: Sample.event(.delivered), deletion: deletion) }
        let total = steps.reduce(0) { $0 + $1.1 }
        print("store-bench postgres: round trips per transfer (8 READs): \(total) = " + steps.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
    }
}
