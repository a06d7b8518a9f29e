import Foundation
import Testing

import SealdropLog

/// The report's computed UTC times agree with Foundation's formatter.
@Suite struct UTCTimeTests {
    @Test func agreesWithISO8601DateFormatterAcrossCenturies() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var generator = SystemRandomNumberGenerator()
        var instants: [TimeInterval] = [0, -1, 86_399, 86_400, 951_782_400, 951_868_799, 4_107_542_400, -2_208_988_800, 1_767_225_599.999]
        instants += (0..<2000).map { _ in TimeInterval(Int64.random(in: -2_208_988_800...7_258_118_400, using: &generator)) }
        for instant in instants {
            let date = Date(timeIntervalSince1970: instant)
            #expect(UTCTime(date).iso8601 == formatter.string(from: date), "\(instant)")
        }
    }
}
