import Foundation
import SealdropLog
import SealdropTrust

/// What the report was asked to cover, said at its top.
struct ReportScope {
    var since: String?
    var until: String?
    var vendor: String?
    /// The export's file name.
    var bundle: String
    var generated: Date
}

/// The compliance report as a document a person files: what was checked
/// and the verdict in plain words first (problems before anything else),
/// then one row per transfer that fits an A4 landscape page, each with its
/// timeline and full identifiers folded under it, then refusals and failed
/// logins counted and grouped, then a glossary. Self-contained: no script,
/// no external asset; every text from the log is escaped.
struct AuditDocument {
    let facts: AuditFacts
    let outcome: AuditCheck.Outcome
    let scope: ReportScope
    /// Timelines unfolded: for print, where nobody can click them open.
    var expanded = false

    func html() -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Transfer audit report \(e(scope.bundle))</title>
        <style>\(Self.style)</style></head>
        <body>
        <header><p class="kicker">sealdrop · receipt log audit</p><h1>Transfer audit report</h1>
        <p class="meta">Export <b>\(e(scope.bundle))</b> · report written \(e(Self.day(scope.generated))) \(e(Self.clock(scope.generated)))</p></header>
        \(verdict())
        \(summary())
        \(transfers())
        \(refusals())
        \(glossary())
        </body></html>

        """
    }

    // MARK: the top: verdict and what was verified

    private func verdict() -> String {
        let problems = outcome.problems
        if problems.isEmpty {
            return """
                <section class="verdict ok"><h2>Verdict: the log is complete and unaltered</h2>
                <p>Every one of the \(outcome.header.treeHead.size) log entries was checked against the tree head signed by the drop box's \
                certified receipt key. No entry was edited, removed, reordered or added, every transfer ended in time or is still within its \
                expiry, and every ended transfer's file was recorded as deleted.</p></section>
                """
        }
        return """
            <section class="verdict bad"><h2>Verdict: verification FAILED — \(problems.count) problem\(problems.count == 1 ? "" : "s")</h2>
            <p>The log below cannot be relied on as it stands. Each problem names the log entry it concerns; hand this report and the \
            export file to the operator and keep both.</p>
            <ol class="problems">\(problems.map { "<li>\(e($0))</li>" }.joined())</ol></section>
            """
    }

    private func summary() -> String {
        let head = outcome.header.treeHead
        let period =
            facts.firstEntry.map { first in
                "\(Self.stamp(first)) to \(Self.stamp(facts.lastEntry ?? first))"
            } ?? "the log is empty"
        var filters = [String]()
        if let since = scope.since { filters.append("uploaded on or after \(since)") }
        if let until = scope.until { filters.append("uploaded on or before \(until)") }
        if let vendor = scope.vendor { filters.append("sent or received by \(vendor)") }
        let ended = Dictionary(grouping: facts.transfers, by: \.outcome).mapValues(\.count)
        let outcomes = ["delivered", "expired", "revoked", "waiting"].compactMap { name in ended[name].map { "\($0) \(name)" } }.joined(separator: ", ")
        let refused = facts.refusals.reduce(Int64(0)) { $0 + $1.count }
        let logins = facts.failedLogins.values.reduce(Int64(0)) { $0 + $1.count }
        let server = outcome.server
        let caName = outcome.ca.commonName ?? "(unnamed CA)"
        return """
            <section class="summary"><h2>What was verified</h2><dl>
            <dt>Period covered</dt><dd>\(e(period))\(filters.isEmpty ? "" : "<br><span class=\"note\">This report shows only transfers \(e(filters.joined(separator: ", "))).</span>")</dd>
            <dt>Log entries</dt><dd>\(head.size) entries, numbered 1 to \(head.size), each hashed into one Merkle tree</dd>
            <dt>Signed tree head</dt><dd>root \(abbreviated(head.root)), signed \(e(Self.stamp(head.time)))</dd>
            <dt>Signed by</dt><dd>the drop box's receipt key, certificate <b>\(e(server.name.value))</b> (role server, \(abbreviated(server.certificate.fingerprint.description)))</dd>
            <dt>Trusted authority</dt><dd><b>\(e(caName))</b>, the CA certificate you supplied (\(abbreviated(outcome.ca.fingerprint.description)))</dd>
            <dt>In this report</dt><dd>\(facts.transfers.count) transfer\(facts.transfers.count == 1 ? "" : "s")\(outcomes.isEmpty ? "" : " (\(outcomes))"), \(refused) refused request\(refused == 1 ? "" : "s"), \(logins) failed login\(logins == 1 ? "" : "s")</dd>
            </dl></section>
            """
    }

    // MARK: transfers

    private func transfers() -> String {
        guard !facts.transfers.isEmpty else { return "<section><h2>Transfers</h2><p>No transfer in this period.</p></section>" }
        let now = outcome.header.treeHead.time
        let rows = facts.transfers.map { story -> String in
            let overdue = story.ended == nil && (story.expires ?? .distantFuture) < now
            let rest = story.timeAtRest(now: now).map(Self.duration) ?? "—"
            return """
                <tbody class="transfer\(overdue ? " attention" : "")"><tr>
                <td class="id">\(abbreviated(story.id, keep: 8))</td>
                <td>\(e(story.sender)) <span class="arrow">→</span> \(e(story.recipient))</td>
                <td>\(declaration(story))</td>
                <td class="num">\(story.size.map { "<span title=\"\($0) bytes\">\(Self.bytes($0))</span>" } ?? "—")</td>
                <td>\(Self.cell(story.uploaded))</td><td>\(Self.cell(story.delivered))</td><td>\(Self.cell(story.deleted))</td>
                <td class="num">\(rest)</td>
                <td>\(outcomeText(story, overdue: overdue))</td>
                <td>\(story.acknowledged.map { "signed by recipient<br>\(Self.cell($0))" } ?? "<span class=\"muted\">none</span>")</td>
                </tr><tr class="more"><td colspan="10">\(timeline(story))</td></tr></tbody>
                """
        }.joined(separator: "\n")
        return """
            <section><h2>Transfers</h2>
            <p class="note">One row per transfer, in the order they were uploaded. Times are UTC. Open “timeline” under a row for every \
            log entry about the transfer and its full identifiers.</p>
            <table class="transfers"><colgroup><col class="c-id"><col class="c-who"><col class="c-what"><col class="c-size"><col class="c-time">\
            <col class="c-time"><col class="c-time"><col class="c-rest"><col class="c-outcome"><col class="c-ack"></colgroup>
            <thead><tr><th>Transfer</th><th>Sender → recipient</th><th>Declared purpose and records</th><th class=\"num\">Size</th><th>Uploaded</th>\
            <th>Delivered</th><th>Deleted</th><th>Time at rest</th><th>Outcome</th><th>Acknowledg&shy;ment</th></tr></thead>
            \(rows)
            </table></section>
            """
    }

    private func declaration(_ story: TransferStory) -> String {
        guard !story.declared.isEmpty else { return "<span class=\"muted\">not declared</span>" }
        var parts = [String]()
        if !story.purpose.isEmpty { parts.append(e(story.purpose)) }
        if !story.reference.isEmpty { parts.append("<span class=\"muted\">ref.</span> \(e(story.reference))") }
        if !story.categories.isEmpty { parts.append(e(story.categories.joined(separator: ", "))) }
        if let records = story.records { parts.append("\(Self.grouped(records)) records") }
        return parts.joined(separator: "<br>")
    }

    private func outcomeText(_ story: TransferStory, overdue: Bool) -> String {
        switch story.ended {
        case "delivered": return "<span class=\"good\">Delivered</span>"
        case "expired": return "Expired, not downloaded"
        case "revoked": return "Revoked by the sender"
        default:
            if overdue { return "<span class=\"badtext\">Past its expiry, not ended</span>" }
            return "Waiting" + (story.expires.map { "<br><span class=\"muted\">until \(Self.day($0))</span>" } ?? "")
        }
    }

    private func timeline(_ story: TransferStory) -> String {
        let items = story.events.map { event -> String in
            var who = e(event.actor)
            if !event.source.isEmpty { who += " <span class=\"muted\">from \(e(event.source))</span>" }
            let detail = Self.detailText(event)
            return "<li><span class=\"entry\">entry \(event.number)</span> <span class=\"when\">\(e(Self.stamp(event.time)))</span> "
                + "<b>\(e(Self.kindText(event.kind)))</b> · \(who)\(detail.isEmpty ? "" : " · <span class=\"detail\">\(e(detail))</span>")</li>"
        }.joined()
        return """
            <details\(expanded ? " open" : "")><summary>timeline · \(story.events.count) log entr\(story.events.count == 1 ? "y" : "ies")</summary>
            <p class="ids">Transfer <code>\(e(story.id))</code><br>Envelope SHA-256 <code>\(e(story.sha256.isEmpty ? "unknown" : story.sha256))</code>\
            \(story.expires.map { "<br>Expiry requested by the sender: \(e(Self.stamp($0)))" } ?? "")</p>
            <ol class="timeline">\(items)</ol></details>
            """
    }

    // MARK: refusals and failed logins

    private func refusals() -> String {
        var out = "<section class=\"refusals\"><h2>Refused requests</h2>"
        if facts.refusals.isEmpty {
            out += "<p>None.</p>"
        } else {
            out += """
                <p class="note">Requests the drop box refused, grouped by what was refused and why. A flood of refusals is logged as \
                one entry per source and window that counts the rest; the counts below add those up.</p>
                <table class="grouped"><colgroup><col class="g-what"><col class="g-why"><col class="g-count"><col class="g-who">\
                <col class="g-when"><col class="g-entries"></colgroup>
                <thead><tr><th>What was refused</th><th>Reason</th><th class=\"num\">Count</th><th>Vendors and sources</th><th>First and last</th><th>Log entries</th></tr></thead><tbody>
                """
            for group in facts.refusals {
                let who = (group.vendors.sorted().map { e($0) } + group.sources.sorted().map { "<span class=\"muted\">\(e($0))</span>" }).joined(
                    separator: ", ")
                let entries = group.entries.prefix(6).map(String.init).joined(separator: ", ") + (group.entries.count > 6 ? " … (\(group.entries.count))" : "")
                out += """
                    <tr><td>\(e(Self.kindText(group.kind)))</td><td>\(e(group.reason))</td><td class="num">\(group.count)</td><td>\(who)</td>\
                    <td>\(Self.cell(group.first, seconds: true))\(group.first == group.last ? "" : "<br>\(Self.cell(group.last, seconds: true))")</td><td>\(entries)</td></tr>
                    """
            }
            out += "</tbody></table>"
        }
        out += "<h2>Failed logins</h2>"
        if facts.failedLogins.isEmpty { return out + "<p>None.</p></section>" }
        out += """
            <table class="grouped logins"><thead><tr><th>Source address</th><th class=\"num\">Attempts</th><th>Names offered</th></tr></thead><tbody>
            """
        for (source, record) in facts.failedLogins.sorted(by: { ($0.value.count, $1.key) > ($1.value.count, $0.key) }) {
            out += "<tr><td>\(e(source))</td><td class=\"num\">\(record.count)</td><td>\(e(record.names.sorted().joined(separator: ", ")))</td></tr>"
        }
        return out + "</tbody></table></section>"
    }

    private func glossary() -> String {
        """
        <section class="glossary"><h2>Glossary</h2><dl>
        <dt>Log entry</dt><dd>One event recorded by the drop box, numbered from 1 in the order it happened. Entries are never changed or removed.</dd>
        <dt>Signed tree head</dt><dd>A fingerprint (the root of a Merkle tree) of all entries, signed by the drop box's receipt key. Changing, \
        removing or reordering any entry changes it.</dd>
        <dt>Receipt key certificate</dt><dd>Issued by the certificate authority to the drop box; it proves which key signs the log.</dd>
        <dt>SHA-256</dt><dd>A 64-digit fingerprint of the encrypted file. The report shows its first digits; the timeline gives it in full.</dd>
        <dt>Time at rest</dt><dd>From upload until the encrypted file was deleted from the drop box (or until the tree head, if it is still held).</dd>
        <dt>Declaration</dt><dd>The sender's signed statement of purpose, reference, data categories and record count.</dd>
        <dt>Acknowledgment</dt><dd>The recipient's signed statement that it decrypted the file intact.</dd>
        <dt>Revoked</dt><dd>Withdrawn by its sender before download. <b>Expired</b>: not downloaded before its expiry; deleted by the drop box.</dd>
        <dt>Refused request</dt><dd>Something a vendor (or an unknown party) asked for and the drop box refused: another vendor's file, an \
        operation that is never allowed, an upload that was not a valid sealed envelope, a limit reached.</dd>
        </dl></section>
        """
    }

    // MARK: words and numbers

    private func e(_ text: String) -> String { Self.escape(text) }

    /// The first `keep` characters, the whole value in a tooltip.
    private func abbreviated(_ value: String, keep: Int = 12) -> String {
        guard value.count > keep + 1 else { return "<code>\(e(value))</code>" }
        return "<code title=\"\(e(value))\">\(e(String(value.prefix(keep))))…</code>"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func kindText(_ kind: LogEntry.Kind) -> String {
        switch kind {
        case .loginAccepted: "logged in"
        case .loginRefused: "login refused"
        case .uploadPublished: "uploaded and published"
        case .uploadRejected: "upload rejected"
        case .claimed: "download started"
        case .released: "download interrupted"
        case .delivered: "delivered"
        case .deleted: "file deleted"
        case .expired: "expired"
        case .revoked: "revoked"
        case .acknowledged: "acknowledged by the recipient"
        case .declared: "declaration signed"
        case .refusedAuthorization: "another vendor's item"
        case .refusedOperation: "an operation never allowed"
        case .refusedClaim: "a download"
        case .refusedOpen: "an upload or file over a limit"
        case .refusedSession: "a connection over a limit"
        case .sessionClosed: "session ended by the drop box"
        case .orphanRemoved: "leftover file removed"
        }
    }

    /// An event's detail in words; signed statements are summarised, not dumped.
    static func detailText(_ event: TransferStory.Event) -> String {
        switch event.kind {
        case .acknowledged: return "signed statement checked against the recipient's certificate"
        case .declared: return "signed statement checked against the sender's certificate"
        default: return event.detail
        }
    }

    static func day(_ date: Date) -> String { UTCTime(date).date }
    static func clock(_ date: Date) -> String { UTCTime(date).seconds + " UTC" }
    static func stamp(_ date: Date) -> String {
        let time = UTCTime(date)
        return time.date + " " + time.seconds + " UTC"
    }

    /// A date over two lines that never break inside.
    static func cell(_ date: Date?, seconds: Bool = false) -> String {
        guard let date else { return "<span class=\"muted\">—</span>" }
        let time = UTCTime(date)
        return "<span class=\"d\">\(time.date)</span> <span class=\"t\">\(seconds ? time.seconds : time.minutes)</span>"
    }

    static func bytes(_ count: UInt64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    static func grouped(_ number: Int) -> String {
        let formatter = NumberFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: number)) ?? String(number)
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let minutes = Int((seconds / 60).rounded())
        if minutes < 1 { return "under 1 min" }
        if minutes < 60 { return "\(minutes) min" }
        let hours = minutes / 60
        if hours < 48 { return "\(hours) h \(minutes % 60) min" }
        return "\(hours / 24) d \(hours % 24) h"
    }
}
