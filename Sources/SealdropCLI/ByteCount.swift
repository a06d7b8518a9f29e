import ArgumentParser

/// A number of bytes such as `1048576`, `500M`, `64G` or `1T` (binary
/// multiples: K = 1024), for limits a user sets on what a server may send.
struct ByteCount: ExpressibleByArgument, Equatable, CustomStringConvertible {
    let bytes: UInt64

    init(bytes: UInt64) {
        self.bytes = bytes
    }

    init?(argument: String) {
        guard let bytes = Self.parse(argument) else { return nil }
        self.bytes = bytes
    }

    static func parse(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var shift: UInt64 = 0
        if let unit = digits.last, !unit.isNumber {
            switch unit.uppercased() {
            case "K": shift = 10
            case "M": shift = 20
            case "G": shift = 30
            case "T": shift = 40
            default: return nil
            }
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = UInt64(digits), value > 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : bytes
    }

    /// The shortest exact form: `64G` rather than `68719476736`.
    var description: String {
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] where bytes % (1 << UInt64(shift)) == 0 {
            return "\(bytes >> UInt64(shift))\(unit)"
        }
        return "\(bytes)"
    }

    var defaultValueDescription: String { description }
    static var allValueStrings: [String] { [] }
    static var defaultCompletionKind: CompletionKind { .default }
}
