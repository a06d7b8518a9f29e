import Foundation
import SealdropFormat
import SealdropLog
import SealdropTrust

/// One transfer's story as the log tells it, for the compliance report.
struct TransferStory {
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
    var ended: String?

    var outcome: String { ended ?? "waiting" }

    var timeAtRest: TimeInterval? {
        guard let uploaded else { return nil }
        return (deleted ?? delivered ?? Date()).timeIntervalSince(uploaded)
    }
}

/// Reads the log's entries into transfers, rejected uploads and failed logins.
struct AuditFacts {
    var transfers: [TransferStory] = []
    var rejected: [(time: Date, actor: String, reason: String)] = []
    var failedLogins: [String: Int] = [:]

    private var byID: [String: TransferStory] = [:]
    private var order: [String] = []

    init() {}

    /// Takes the next entry of the log. Entries that do not decode never
    /// come here: `AuditVerifier` reports each of them, and the report
    /// prints those problems beside the facts.
    mutating func add(_ entry: LogEntry) {
        let time = entry.date
        switch entry.kind {
        case .loginRefused:
            failedLogins[entry.source.isEmpty ? "?" : entry.source, default: 0] += Int(entry.count ?? 1)
        case .uploadRejected:
            rejected.append((time, entry.actor, entry.detail))
        default:
            break
        }
        guard let id = entry.transfer else { return }
        if byID[id] == nil {
            byID[id] = TransferStory(id: id)
            order.append(id)
        }
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
            let declaration = try? JSONDecoder().decode(Declaration.self, from: Data(entry.detail.utf8))
            byID[id]!.purpose =
                declaration.map { d in
                    [
                        d.purpose, d.reference.isEmpty ? nil : "ref. \(d.reference)", d.categories.isEmpty ? nil : d.categories.joined(separator: ", "),
                        d.records.map { "\($0) records" },
                    ].compactMap { $0 }.joined(separator: "; ")
                } ?? ""
        default:
            break
        }
    }

    /// Called after the last entry: the transfers, in the order they appeared.
    mutating func finish() {
        transfers = order.compactMap { byID[$0] }.filter { $0.uploaded != nil }
    }
}

/// Renders the facts as a self-contained HTML page, CSV or JSON.
enum AuditRenderer {
    static let columns = [
        "transfer", "sender", "recipient", "declared purpose", "bytes", "sha256", "uploaded", "expires", "delivered", "deleted", "time at rest",
        "outcome", "acknowledged",
    ]

    static func row(_ story: TransferStory) -> [String] {
        func time(_ date: Date?) -> String { date.map(CertificateVerifier.format) ?? "" }
        let rest = story.timeAtRest.map { String(format: "%.1f h", $0 / 3600) } ?? ""
        return [
            story.id, story.sender, story.recipient, story.purpose, story.size.map(String.init) ?? "", story.sha256, time(story.uploaded),
            time(story.expires), time(story.delivered), time(story.deleted), rest, story.outcome, time(story.acknowledged),
        ]
    }

    static func csv(_ facts: AuditFacts) -> String {
        let quote = { (field: String) in "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        return ([columns] + facts.transfers.map(row)).map { $0.map(quote).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func json(_ facts: AuditFacts, verified: String) -> String {
        let rows = facts.transfers.map { Dictionary(uniqueKeysWithValues: zip(columns, row($0))) }
        let object: [String: Any] = [
            "verification": verified, "transfers": rows,
            "rejectedUploads": facts.rejected.map { ["time": CertificateVerifier.format($0.time), "vendor": $0.actor, "reason": $0.reason] },
            "failedLoginsBySource": facts.failedLogins,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func html(_ facts: AuditFacts, verified: String, problems: [String]) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        let status =
            problems.isEmpty
            ? "<p class=\"ok\">Verified: \(escape(verified))</p>"
            : "<div class=\"bad\"><p>Verification FAILED:</p><ul>" + problems.map { "<li>\(escape($0))</li>" }.joined() + "</ul></div>"
        var rows = ""
        let bySender = Dictionary(grouping: facts.transfers, by: \.sender)
        for sender in bySender.keys.sorted() {
            rows += "<tr class=\"group\"><th colspan=\"\(columns.count)\">Sent by \(escape(sender))</th></tr>"
            for story in bySender[sender]! {
                let flag = story.ended == nil && (story.expires ?? .distantFuture) < Date() ? " class=\"warn\"" : ""
                rows += "<tr\(flag)>" + row(story).map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
            }
        }
        let rejected = facts.rejected.map {
            "<tr class=\"warn\"><td>\(escape(CertificateVerifier.format($0.time)))</td><td>\(escape($0.actor))</td><td>\(escape($0.reason))</td></tr>"
        }.joined()
        let logins = facts.failedLogins.sorted { $0.key < $1.key }.map { "<tr><td>\(escape($0.key))</td><td>\($0.value)</td></tr>" }.joined()
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>sealdrop transfer report</title>
            <style>
            body { font-family: sans-serif; margin: 2em; } table { border-collapse: collapse; width: 100%; margin-bottom: 2em; font-size: 0.85em; }
            th, td { border: 1px solid #999; padding: 0.3em; text-align: left; word-break: break-all; } .group th { background: #eee; }
            .ok { color: #060; font-weight: bold; } .bad { color: #a00; font-weight: bold; } .warn { background: #fdd; }
            @media print { body { margin: 0; } tr { page-break-inside: avoid; } }
            </style></head><body>
            <h1>sealdrop transfer report</h1>
            \(status)
            <h2>Transfers (\(facts.transfers.count))</h2>
            <table><tr>\(columns.map { "<th>\($0)</th>" }.joined())</tr>\(rows)</table>
            <h2>Rejected uploads (\(facts.rejected.count))</h2>
            <table><tr><th>time</th><th>vendor</th><th>reason</th></tr>\(rejected)</table>
            <h2>Failed logins by source</h2>
            <table><tr><th>source</th><th>count</th></tr>\(logins)</table>
            </body></html>

            """
    }
}
