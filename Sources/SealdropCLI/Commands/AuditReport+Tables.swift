import Foundation
import SealdropLog
import SealdropTrust

/// The facts as tables for programs: CSV (one row per transfer) and JSON.
/// Full values, no abbreviation: the HTML document is the one for people.
enum AuditRenderer {
    static let columns = [
        "transfer", "sender", "recipient", "declared purpose", "bytes", "sha256", "uploaded", "expires", "delivered", "deleted", "time at rest",
        "outcome", "acknowledged",
    ]

    static func row(_ story: TransferStory, now: Date = Date()) -> [String] {
        func time(_ date: Date?) -> String { date.map { UTCTime($0).iso8601 } ?? "" }
        let rest = story.timeAtRest(now: now).map { String(format: "%.1f h", $0 / 3600) } ?? ""
        return [
            story.id, story.sender, story.recipient, story.declared, story.size.map(String.init) ?? "", story.sha256, time(story.uploaded),
            time(story.expires), time(story.delivered), time(story.deleted), rest, story.outcome, time(story.acknowledged),
        ]
    }

    static func csv(_ facts: AuditFacts) -> String {
        let quote = { (field: String) in "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        return ([columns] + facts.transfers.map { row($0) }).map { $0.map(quote).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func json(_ facts: AuditFacts, verified: String) -> String {
        let rows = facts.transfers.map { Dictionary(uniqueKeysWithValues: zip(columns, row($0))) }
        let object: [String: Any] = [
            "verification": verified, "transfers": rows,
            "rejectedUploads": facts.rejected.map { ["time": UTCTime($0.time).iso8601, "vendor": $0.actor, "reason": $0.reason] },
            "refusals": facts.refusals.map { group in
                [
                    "kind": group.kind.rawValue, "reason": group.reason, "count": group.count, "first": CertificateVerifier.format(group.first),
                    "last": CertificateVerifier.format(group.last), "vendors": group.vendors.sorted(), "sources": group.sources.sorted(),
                    "entries": group.entries,
                ] as [String: Any]
            },
            "failedLoginsBySource": facts.failedLogins.mapValues { $0.count },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
