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
/// - Preemption instead of refusal: a connection that full slots (or the
///   random drop) would turn away takes the slot of the oldest connection
///   of the heaviest place, if that place holds at least two slots more
///   than the newcomer's and the newcomer stays within its fair share
///   (`full` split evenly over the places holding slots, itself included).
///   Places are compared first by aggregate (`ipv4GroupPrefix`,
///   `ipv6GroupPrefix`: an IPv4 /16, an IPv6 /48, the size of one site's
///   allocation), then by range within the newcomer's own aggregate. A
///   few ranges flooding the slots are thus pushed back to an even share
///   by anyone else, and can never take the slots back (they already hold
///   the most); many /64s of one /48 count as one place. What it cannot
///   stop: `full` places (32 /16s or /48s) holding one slot each.
///
/// A plain value: the caller keeps it under its lock and passes the random
/// number in, so tests decide the draw. Every scan is over the slots held,
/// at most `full`.
public struct LoginAdmission: Sendable {
    public struct Limits: Sendable, Equatable {
        public var start: Int
        /// Percent refused at `start`, 1...100.
        public var rate: Int
        public var full: Int
        public var perSource: Int
        public var ipv4Prefix: Int
        public var ipv6Prefix: Int
        /// The aggregates compared first when preempting: an IPv4 /16 and an
        /// IPv6 /48 (never narrower than the ranges themselves). A /48 is
        /// what one site is given, and 65 536 /64s cost an attacker nothing
        /// more than one of them.
        public var ipv4GroupPrefix: Int
        public var ipv6GroupPrefix: Int

        public init(
            start: Int = 10, rate: Int = 30, full: Int = 32, perSource: Int = 8, ipv4Prefix: Int = 24, ipv6Prefix: Int = 64,
            ipv4GroupPrefix: Int = 16, ipv6GroupPrefix: Int = 48
        ) {
            self.start = start
            self.rate = rate
            self.full = full
            self.perSource = perSource
            self.ipv4Prefix = ipv4Prefix
            self.ipv6Prefix = ipv6Prefix
            self.ipv4GroupPrefix = ipv4GroupPrefix
            self.ipv6GroupPrefix = ipv6GroupPrefix
        }
    }

    /// A connection still logging in.
    public struct Slot: Sendable, Equatable {
        public let source: String
        public let range: String
        public let group: String
        /// Admission order: the smallest is the oldest.
        let order: Int
    }

    /// A connection admitted, and the one it pushed out, if any: the caller
    /// closes that one and records it as refused.
    public struct Admission: Sendable, Equatable {
        public let range: String
        public let preempted: Preempted?
    }

    /// The connection a newcomer pushed out: its ticket and where it came from.
    public struct Preempted: Sendable, Equatable {
        public let ticket: Int
        public let slot: Slot
    }

    public let limits: Limits
    /// Connections still logging in, by the caller's ticket.
    public private(set) var slots: [Int: Slot] = [:]
    /// Connections still logging in, per source range.
    public private(set) var inProgress: [String: Int] = [:]
    private var perGroup: [String: Int] = [:]
    private var nextOrder = 0

    public var total: Int { slots.count }

    public init(limits: Limits) {
        self.limits = limits
    }

    /// Admits a connection from `source` under `ticket` (a number the
    /// caller never reuses; counted until `finished(ticket)`), possibly by
    /// preempting another, or says why not. `draw` is uniform in 0..<1.
    public mutating func admit(source: String, ticket: Int, draw: Double) -> Result<Admission, LoginRefusal> {
        let range = Self.range(of: source, ipv4Prefix: limits.ipv4Prefix, ipv6Prefix: limits.ipv6Prefix)
        let group = Self.range(
            of: source, ipv4Prefix: min(limits.ipv4GroupPrefix, limits.ipv4Prefix), ipv6Prefix: min(limits.ipv6GroupPrefix, limits.ipv6Prefix))
        guard slots[ticket] == nil else { return .failure(LoginRefusal(reason: "ticket \(ticket) is already logging in")) }
        if inProgress[range, default: 0] >= limits.perSource {
            return .failure(LoginRefusal(reason: "\(limits.perSource) logins from \(range) are already in progress"))
        }
        var refusal: LoginRefusal?
        if total >= limits.full {
            refusal = LoginRefusal(reason: "\(total) connections are already logging in; try again shortly")
        } else if total >= limits.start {
            // OpenSSH's curve: rate% at start, 100% at full.
            let span = Double(max(limits.full - limits.start, 1))
            let percent = Double(limits.rate) + Double(100 - limits.rate) * Double(total - limits.start) / span
            if draw * 100 < percent {
                refusal = LoginRefusal(reason: "\(total) connections are already logging in (random early drop); try again shortly")
            }
        }
        var preempted: Preempted?
        if let refusal {
            guard let victim = victim(forRange: range, group: group), let slot = slots[victim] else { return .failure(refusal) }
            preempted = Preempted(ticket: victim, slot: slot)
            remove(victim)
        }
        slots[ticket] = Slot(source: source, range: range, group: group, order: nextOrder)
        nextOrder += 1
        inProgress[range, default: 0] += 1
        perGroup[group, default: 0] += 1
        return .success(Admission(range: range, preempted: preempted))
    }

    /// The connection admitted under `ticket` has logged in or gone. False
    /// if it no longer held a slot (it was preempted, or never admitted).
    @discardableResult
    public mutating func finished(_ ticket: Int) -> Bool {
        guard slots[ticket] != nil else { return false }
        remove(ticket)
        return true
    }

    /// True while `ticket` holds a slot.
    public func holds(_ ticket: Int) -> Bool { slots[ticket] != nil }

    /// The slot a newcomer from `range` in `group` may take, if any: the
    /// oldest of the heaviest range of the heaviest group, when that group
    /// holds two more than the newcomer's and the newcomer stays within
    /// its fair share; else the same one level down, among the ranges of
    /// the newcomer's own group.
    private func victim(forRange range: String, group: String) -> Int? {
        let share = { (places: Int) in (limits.full + places - 1) / max(places, 1) }
        let mine = perGroup[group, default: 0]
        let groups = perGroup.count + (mine == 0 ? 1 : 0)
        if let heavyGroup = heaviest(among: slots.filter { $0.value.group != group }, key: \.group),
            mine + 1 < perGroup[heavyGroup, default: 0], mine + 1 <= share(groups)
        {
            let inGroup = slots.filter { $0.value.group == heavyGroup }
            return oldest(of: heaviest(among: inGroup, key: \.range), in: inGroup)
        }
        let inMyGroup = slots.filter { $0.value.group == group && $0.value.range != range }
        let mineInRange = inProgress[range, default: 0]
        let ranges = Set(slots.values.map(\.range)).count + (mineInRange == 0 ? 1 : 0)
        if let heavyRange = heaviest(among: inMyGroup, key: \.range), mineInRange + 1 < inProgress[heavyRange, default: 0],
            mineInRange + 1 <= share(ranges)
        {
            return oldest(of: heavyRange, in: inMyGroup)
        }
        return nil
    }

    /// The place (`key` of the slots) holding the most slots; ties go to the
    /// one holding the oldest slot.
    private func heaviest(among candidates: [Int: Slot], key: KeyPath<Slot, String>) -> String? {
        var counts: [String: (count: Int, oldest: Int)] = [:]
        for slot in candidates.values {
            let place = slot[keyPath: key]
            let before = counts[place] ?? (0, Int.max)
            counts[place] = (before.count + 1, min(before.oldest, slot.order))
        }
        return counts.min { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.value.oldest < $1.value.oldest }?.key
    }

    private func oldest(of range: String?, in candidates: [Int: Slot]) -> Int? {
        candidates.filter { $0.value.range == range }.min { $0.value.order < $1.value.order }?.key
    }

    private mutating func remove(_ ticket: Int) {
        guard let slot = slots.removeValue(forKey: ticket) else { return }
        let inRange = inProgress[slot.range, default: 1]
        inProgress[slot.range] = inRange > 1 ? inRange - 1 : nil
        let inGroup = perGroup[slot.group, default: 1]
        perGroup[slot.group] = inGroup > 1 ? inGroup - 1 : nil
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
