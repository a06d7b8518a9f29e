import Dispatch
import Foundation
import SealdropStore
import SealdropStorePostgres
import Synchronization

// Store figures on both engines (ops/bench store; build it in release):
// receipt-log appends per second with one and several writers, claim
// latency, recordServed cost, and the statements (round trips) one
// transfer costs on PostgreSQL.
//
//     store-bench POSTGRES_URL [WRITERS]

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: store-bench postgres://USER@HOST:PORT/DB [WRITERS]\n".utf8))
    exit(2)
}
let url = arguments[1]
let writerCount = arguments.count > 2 ? Int(arguments[2]) ?? 8 : 8
enum Bench {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
}
let now = Bench.now

@Sendable func event(_ kind: TransferEvent.Kind, _ id: String? = nil) -> TransferEvent {
    TransferEvent(time: Bench.now, kind: kind, actor: "bench", sourceAddress: "127.0.0.1", transferID: id)
}

func transfer(_ id: String, size: UInt64 = 100) -> Transfer {
    Transfer(
        id: id, sender: "oldvendor", recipient: "newvendor", size: size, ciphertextSHA256: String(repeating: "ab", count: 32), uploadedAt: now,
        expiresAt: now.addingTimeInterval(86_400), blob: "blob-" + id)
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// One engine's figures; `open` gives a new store (a new node) on the same data.
func measure(_ name: String, open: () throws -> any TransferStore) throws {
    let store = try open()
    let count = 2000
    let single = try seconds { for _ in 0..<count { try store.record(event(.loginRefused)) } }
    let writers = try (0..<writerCount).map { _ in try open() }
    let each = count / writerCount
    let failures = Atomic<Int>(0)
    let parallel = seconds {
        DispatchQueue.concurrentPerform(iterations: writers.count) { index in
            for _ in 0..<each {
                do { try writers[index].record(event(.loginRefused)) } catch { failures.add(1, ordering: .relaxed) }
            }
        }
    }
    let entries = try store.logEntries().count
    print(
        "\(name): log appends/s: 1 writer \(Int(Double(count) / single)), \(writerCount) writers \(Int(Double(each * writerCount) / parallel))"
            + " (\(failures.load(ordering: .relaxed)) failed, \(entries) entries)")

    let claims = 300
    for index in 0..<claims { try store.publish(transfer("c\(index)"), event: event(.uploadPublished, "c\(index)")) }
    var latencies = [Double]()
    for index in 0..<claims {
        latencies.append(
            try seconds { _ = try store.claim(id: "c\(index)", recipient: "newvendor", session: "s\(index)", now: now, event: event(.claimed)) })
    }
    latencies.sort()
    let micros = { (q: Double) in Int(latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] * 1e6) }
    print("\(name): claim latency µs: p50 \(micros(0.5)), p90 \(micros(0.9)), p99 \(micros(0.99))")

    try store.publish(transfer("served", size: 1 << 40), event: event(.uploadPublished))
    _ = try store.claim(id: "served", recipient: "newvendor", session: "r", now: now, event: event(.claimed))
    let reads = 2000
    let served = try seconds {
        for index in 0..<UInt64(reads) {
            try store.recordServed(id: "served", session: "r", ranges: ServedRanges([(index * 131_072)..<((index + 1) * 131_072)]), now: now)
        }
    }
    print("\(name): recordServed µs per call: \(Int(served / Double(reads) * 1e6)) (sequential 128 KiB reads)")

    guard let postgres = store as? PostgresTransferStore else { return }
    var steps = [(String, Int)]()
    func counted(_ step: String, _ body: () throws -> Void) rethrows {
        let before = postgres.statementCount
        try body()
        steps.append((step, postgres.statementCount - before))
    }
    let id = "round-trips"
    try counted("publish") { try store.publish(transfer(id, size: 8), event: event(.uploadPublished, id)) }
    try counted("claim") { _ = try store.claim(id: id, recipient: "newvendor", session: "s", now: now, event: event(.claimed)) }
    try counted("recordServed x8") {
        for offset in 0..<UInt64(8) { try store.recordServed(id: id, session: "s", ranges: ServedRanges([offset..<(offset + 1)]), now: now) }
    }
    let deletion = TransferEvent(time: now, kind: .deleted, actor: "server", sourceAddress: "", transferID: id)
    try counted("deliver") { _ = try store.deliver(id: id, session: "s", now: now, event: event(.delivered), deletion: deletion) }
    let total = steps.reduce(0) { $0 + $1.1 }
    print("\(name): statements (round trips) per transfer with 8 READs: \(total) = " + steps.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
}

do {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-bench-\(getpid())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try measure("sqlite") { try SQLiteTransferStore(path: directory + "/metadata.sqlite") }
    var settings = try PostgresSettings(url: url)
    settings.schema = "bench_\(getpid())"
    try measure("postgres") { try PostgresTransferStore(settings: settings, clock: .database) }
} catch {
    FileHandle.standardError.write(Data("store-bench: \(error)\n".utf8))
    exit(1)
}
