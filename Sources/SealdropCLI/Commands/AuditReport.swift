import Foundation
import SealdropFormat
import SealdropLayout
import SealdropLog
import SealdropTrust

/// One transfer's story as the log tells it, for the compliance report.
struct TransferStory {
    /// One log entry about the transfer, with its number in the log (from 1).
    struct Event {
        var number: Int
        var time: Date
        var kind: LogEntry.Kind
        var actor: String
        var source: String
        var detail: String
    }

    var id: String
    var sender = "?"
    var recipient = "?"
    var size: UInt64?
    var sha256 = ""
    var uploaded: Date?
    var expires: Date?
    var delivered: Date?
    var deleted: Date?
    var acknowledged: Date?
    var purpose = ""
    var reference = ""
    var categories: [String] = []
    var records: Int?
    var ended: String?
    var events: [Event] = []

    var outcome: String { ended ?? "waiting" }

    /// The declaration in one line, as the CSV and JSON have always given it.
    var declared: String {
        guard !purpose.isEmpty || !reference.isEmpty || !categories.isEmpty || records != nil else { return "" }
        return [
            purpose, reference.isEmpty ? nil : "ref. \(reference)", categories.isEmpty ? nil : categories.joined(separator: ", "),
            records.map { "\($0) records" },
        ].compactMap { $0 }.joined(separator: "; ")
    }

    /// From upload to deletion (or to `now` while the file is still held).
    func timeAtRest(now: Date) -> TimeInterval? {
        guard let uploaded else { return nil }
        return (deleted ?? delivered ?? now).timeIntervalSince(uploaded)
    }
}

/// Refusals of one kind and reason, counted: an aggregated entry counts
/// for the number of refusals it stands for, not for one.
struct RefusalGroup {
    var kind: LogEntry.Kind
    var reason: String
    var count: Int64 = 0
    var first: Date
    var last: Date
    var vendors: Set<String> = []
    var sources: Set<String> = []
    var entries: [Int] = []
}

/// Reads the log's entries into transfers, refusals and failed logins.
struct AuditFacts {
    var transfers: [TransferStory] = []
    var refusals: [RefusalGroup] = []
    /// Failed logins by source address: how many, and the names offered.
    var failedLogins: [String: (count: Int64, names: Set<String>)] = [:]
    /// Time of the first and last entry.
    var firstEntry: Date?
    var lastEntry: Date?
    var entryCount = 0

    private var byID: [String: TransferStory] = [:]
    private var order: [String] = []
    private var refusalIndex: [String: Int] = [:]
    /// The reason of the last refusal logged in full, per kind and source.
    private var lastReason: [String: String] = [:]

    init() {}

    /// Rejected uploads, one line each as before (CSV/JSON readers rely on it).
    var rejected: [(time: Date, actor: String, reason: String)] {
        refusals.filter { $0.kind == .uploadRejected }.map { ($0.first, $0.vendors.sorted().joined(separator: ", "), $0.reason) }
    }

    /// Takes entry `number` (from 1) of the log. Entries that do not decode
    /// never come here: `AuditVerifier` reports each of them, and the
    /// report prints those problems beside the facts.
    mutating func add(_ entry: LogEntry, number: Int) {
        let time = entry.date
        entryCount += 1
        if firstEntry == nil { firstEntry = time }
        lastEntry = time
        switch entry.kind {
        case .loginRefused:
            let source = entry.source.isEmpty ? "?" : entry.source
            failedLogins[source, default: (0, [])].count += entry.count ?? 1
            failedLogins[source, default: (0, [])].names.insert(entry.actor)
        case .uploadRejected, .refusedAuthorization, .refusedOperation, .refusedClaim, .refusedOpen, .refusedSession:
            addRefusal(entry, number: number)
        default:
            break
        }
        guard let id = entry.transfer, entry.kind != .uploadRejected else { return }
        if byID[id] == nil {
            byID[id] = TransferStory(id: id)
            order.append(id)
        }
        byID[id]!.events.append(
            TransferStory.Event(number: number, time: time, kind: entry.kind, actor: entry.actor, source: entry.source, detail: entry.detail))
        switch entry.kind {
        case .uploadPublished:
            byID[id]!.sender = entry.actor
            byID[id]!.recipient = entry.recipient ?? "?"
            byID[id]!.size = entry.size
            byID[id]!.sha256 = entry.sha256 ?? ""
            byID[id]!.uploaded = time
            byID[id]!.expires = entry.expires.map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        case .delivered:
            byID[id]!.delivered = time
            byID[id]!.ended = "delivered"
        case .expired, .revoked:
            byID[id]!.ended = entry.kind.rawValue
        case .deleted:
            byID[id]!.deleted = time
        case .acknowledged:
            byID[id]!.acknowledged = time
        case .declared:
            if let declaration = try? JSONDecoder().decode(Declaration.self, from: Data(entry.detail.utf8)) {
                byID[id]!.purpose = declaration.purpose
                byID[id]!.reference = declaration.reference
                byID[id]!.categories = declaration.categories
                byID[id]!.records = declaration.records
            }
        default:
            break
        }
    }

    private mutating func addRefusal(_ entry: LogEntry, number: Int) {
        // A summary names the source's range (IPv4 /24, IPv6 /64), its first
        // entry the address: both are matched by the range.
        let channel = entry.kind.rawValue + "\u{0}" + SourceRange.of(entry.source)
        var names = [entry.actor]
        let reason: String
        if entry.count != nil {
            // A window's summary counts refusals after the first, from the
            // same source range and of the same kind: they share its reason.
            reason = lastReason[channel] ?? "(reason not recorded)"
            if let range = entry.detail.range(of: #"names offered: [^)]*"#, options: .regularExpression) {
                names = entry.detail[range].dropFirst("names offered: ".count).split(separator: ", ").map(String.init)
            }
        } else {
            reason = entry.detail.isEmpty ? "(no reason given)" : entry.detail
            lastReason[channel] = reason
        }
        let key = entry.kind.rawValue + "\u{0}" + reason
        let index: Int
        if let known = refusalIndex[key] {
            index = known
        } else {
            index = refusals.count
            refusalIndex[key] = index
            refusals.append(RefusalGroup(kind: entry.kind, reason: reason, first: entry.date, last: entry.date))
        }
        refusals[index].count += entry.count ?? 1
        refusals[index].last = entry.date
        refusals[index].vendors.formUnion(names.filter { $0 != "several" })
        if !entry.source.isEmpty { refusals[index].sources.insert(entry.source) }
        refusals[index].entries.append(number)
    }

    /// Called after the last entry: the transfers, in the order they appeared.
    mutating func finish() {
        transfers = order.compactMap { byID[$0] }.filter { $0.uploaded != nil }
        refusals.sort { ($0.count, $1.kind.rawValue) > ($1.count, $0.kind.rawValue) }
    }
}
