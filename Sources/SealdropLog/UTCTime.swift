import Foundation

/// A log time as people read it, in UTC, computed rather than formatted by
/// a `DateFormatter`: the audit report of 250,000 transfers prints a
/// million times, and a formatter made for each took most of a minute.
public struct UTCTime: Sendable {
    public let year: Int
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int

    public init(_ date: Date) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60)
        // Days since 1970-01-01 to a civil date (the proleptic Gregorian
        // calendar's 400-year eras, counted from March).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// 2026-11-30
    public var date: String { "\(year)-\(Self.two(month))-\(Self.two(day))" }
    /// 03:57
    public var minutes: String { "\(Self.two(hour)):\(Self.two(minute))" }
    /// 03:57:41
    public var seconds: String { "\(minutes):\(Self.two(second))" }
    /// 2026-11-30T03:57:41Z, as `CertificateVerifier.format` writes it.
    public var iso8601: String { "\(date)T\(seconds)Z" }
}
