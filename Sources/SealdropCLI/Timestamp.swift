import Foundation

/// Times as people read them: ISO 8601 in UTC, plus how far away.
enum Timestamp {
    static func describe(_ unixSeconds: Int64, now: Date = Date()) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(unixSeconds))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let delta = Int64(date.timeIntervalSince(now).rounded())
        let relative = abs(delta) < 2 ? "just now" : delta > 0 ? "in \(span(delta))" : "\(span(-delta)) ago"
        return "\(formatter.string(from: date)) (\(relative))"
    }

    static func span(_ seconds: Int64) -> String {
        let days = seconds / 86_400
        let hours = (seconds % 86_400) / 3600
        let minutes = (seconds % 3600) / 60
        if days > 0 { return "\(days)d \(hours)h" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        if minutes > 0 { return "\(minutes)m" }
        return "\(seconds)s"
    }
}
