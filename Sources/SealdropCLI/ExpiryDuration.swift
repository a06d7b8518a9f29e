import ArgumentParser

/// A requested time to live such as `72h`, `90m`, `14d` or `3600s`.
struct ExpiryDuration: ExpressibleByArgument, Equatable {
    /// The shortest sensible lifetime: time to notice the file and fetch it.
    static let minimum = 60
    /// The server's default ceiling (`maximum-expiry` in ops/sealdropd.conf); a longer request would be refused there.
    static let maximum = 14 * 24 * 3600
    static let defaultValue = ExpiryDuration(seconds: 72 * 3600)

    let seconds: Int

    init(seconds: Int) {
        self.seconds = seconds
    }

    init?(argument: String) {
        guard let seconds = Self.parse(argument) else { return nil }
        self.seconds = seconds
    }

    static func parse(_ text: String) -> Int? {
        guard let unit = text.last, let value = Int(text.dropLast()), value > 0 else { return nil }
        let multiplier: Int
        switch unit {
        case "s": multiplier = 1
        case "m": multiplier = 60
        case "h": multiplier = 3600
        case "d": multiplier = 86_400
        default: return nil
        }
        let (seconds, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow, (minimum...maximum).contains(seconds) else { return nil }
        return seconds
    }

    static var allValueStrings: [String] { [] }
    static var defaultCompletionKind: CompletionKind { .default }
}
