import Foundation
import SealdropLayout

#if canImport(Glibc)
    import Glibc
#endif

/// Which connections may start logging in: the limits on connections that
/// hold a session slot (and a thread) without having authenticated.
///
/// - Random early drop over every connection still logging in, as
///   OpenSSH's `MaxStartups start:rate:full`: below `start` all are
///   admitted; from `start`, `rate` percent are refused, rising linearly to
///   all of them at `full`. A flood from many addresses then holds at most
///   `full` slots, and most of its connections are turned away at once.
/// - At most `perSource` connections still logging in per source range (an
///   IPv4 /24 or an IPv6 /64 by default: one host, or one customer network,
///   rarely has more addresses than that), so a flood from one place is
///   refused without touching anyone else.
///
/// A plain value: the caller keeps it under its lock and passes the random
/// number in, so tests decide the draw.
public struct LoginAdmission: Sendable {
    public struct Limits: Sendable, Equatable {
        public var start: Int
        /// Percent refused at `start`, 1...100.
        public var rate: Int
        public var full: Int
        public var perSource: Int
        public var ipv4Prefix: Int
        public var ipv6Prefix: Int

        public init(start: Int = 10, rate: Int = 30, full: Int = 32, perSource: Int = 8, ipv4Prefix: Int = 24, ipv6Prefix: Int = 64) {
            self.start = start
            self.rate = rate
            self.full = full
            self.perSource = perSource
            self.ipv4Prefix = ipv4Prefix
            self.ipv6Prefix = ipv6Prefix
        }
    }

    public let limits: Limits
    /// Connections still logging in, per source range.
    public private(set) var inProgress: [String: Int] = [:]
    public private(set) var total = 0

    public init(limits: Limits) {
        self.limits = limits
    }

    /// Admits a connection from `source` (counted until `finished`), or
    /// says why not. `draw` is uniform in 0..<1.
    public mutating func admit(source: String, draw: Double) -> Result<String, LoginRefusal> {
        let range = Self.range(of: source, ipv4Prefix: limits.ipv4Prefix, ipv6Prefix: limits.ipv6Prefix)
        if total >= limits.full {
            return .failure(LoginRefusal(reason: "\(total) connections are already logging in; try again shortly"))
        }
        if total >= limits.start {
            // OpenSSH's curve: rate% at start, 100% at full.
            let span = Double(max(limits.full - limits.start, 1))
            let percent = Double(limits.rate) + Double(100 - limits.rate) * Double(total - limits.start) / span
            if draw * 100 < percent {
                return .failure(LoginRefusal(reason: "\(total) connections are already logging in (random early drop); try again shortly"))
            }
        }
        if inProgress[range, default: 0] >= limits.perSource {
            return .failure(LoginRefusal(reason: "\(limits.perSource) logins from \(range) are already in progress"))
        }
        inProgress[range, default: 0] += 1
        total += 1
        return .success(range)
    }

    /// The connection admitted for `range` has logged in or gone.
    public mutating func finished(_ range: String) {
        guard let count = inProgress[range] else { return }
        inProgress[range] = count > 1 ? count - 1 : nil
        total = max(total - 1, 0)
    }

    /// The range `source` counts in (`SourceRange.of`).
    public static func range(of source: String, ipv4Prefix: Int = 24, ipv6Prefix: Int = 64) -> String {
        SourceRange.of(source, ipv4Prefix: ipv4Prefix, ipv6Prefix: ipv6Prefix)
    }
}

/// Why a connection may not start logging in.
public struct LoginRefusal: Error, Equatable, Sendable {
    public let reason: String
}
