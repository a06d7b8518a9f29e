import Foundation
import SealdropStore

/// Refusals go on the record, but a flood must not become a flood of log
/// entries: per (source range, kind) and window, the first refusal is
/// written at once and the others are counted and written as one entry when
/// the window closes (the reaper thread, or `flushRefusals` at shutdown).
extension DropBox {
    /// Sources tracked at once per window; beyond it every new source shares
    /// one "*" entry per kind, so memory and entries stay bounded whatever
    /// the number of addresses a flood comes from.
    public static let maximumRefusalSources = 4096

    /// Records a refusal (`kind` one of `TransferEvent.refusalKinds`, or any
    /// kind that should be aggregated the same way). Never throws: the
    /// refusal has happened; a failed write is logged.
    public func recordRefusal(kind: TransferEvent.Kind, actor: String, source: String, detail: String, now: Date = Date()) {
        metrics.refused(kind: kind.rawValue)
        let window = configuration.refusalWindow
        let events = refusals.withLock { buffer -> [TransferEvent] in
            // Keyed by the source's range (/24, /64), not its address: one
            // host holds a whole IPv6 /64, and would otherwise write an entry
            // per address it picks. The first entry keeps the exact address.
            var key = RefusalBuffer.Key(source: LoginAdmission.range(of: source), kind: kind)
            if buffer.open[key] == nil, buffer.open.count >= Self.maximumRefusalSources {
                key = RefusalBuffer.Key(source: "*", kind: kind)
            }
            var out = [TransferEvent]()
            if let pending = buffer.open[key] {
                if now.timeIntervalSince(pending.start) < window {
                    buffer.open[key]?.add(actor)
                    return []
                }
                buffer.open[key] = nil
                if let summary = pending.summary(key, now: now) { out.append(summary) }
            }
            buffer.open[key] = RefusalBuffer.Pending(start: now)
            out.append(
                TransferEvent(
                    time: now, kind: kind, actor: actor, sourceAddress: key.source == "*" ? "*" : source,
                    detail: key.source == "*" ? "from \(source): \(detail)" : detail))
            return out
        }
        write(events)
    }

    /// Rejected uploads each get their own entry (size and reason: evidence
    /// of what a vendor tried to send), up to this many per source and
    /// refusal window; past it they are counted like other refusals, so a
    /// vendor uploading junk in a loop adds a bounded number of entries.
    public static let individualRejectionsPerWindow = 5

    /// Records a rejected upload: in full while the source is within
    /// `individualRejectionsPerWindow`, aggregated (`recordRefusal`) beyond.
    public func recordRejectedUpload(_ event: TransferEvent) {
        let now = event.time
        let window = configuration.refusalWindow
        let individual = refusals.withLock { buffer -> Bool in
            var source = event.sourceAddress
            if buffer.rejections[source] == nil, buffer.rejections.count >= Self.maximumRefusalSources { source = "*" }
            if let burst = buffer.rejections[source], now.timeIntervalSince(burst.start) < window {
                buffer.rejections[source] = RefusalBuffer.Burst(start: burst.start, count: burst.count + 1)
                return burst.count < Self.individualRejectionsPerWindow
            }
            buffer.rejections[source] = RefusalBuffer.Burst(start: now, count: 1)
            return true
        }
        if individual {
            write([event])
        } else {
            let subject = event.transferID.map { "transfer \($0): " } ?? ""
            recordRefusal(kind: .uploadRejected, actor: event.actor, source: event.sourceAddress, detail: subject + event.detail, now: now)
        }
    }

    /// Writes the counted refusals of every window that has closed by `now`
    /// (all of them with `all`, at shutdown).
    public func flushRefusals(now: Date = Date(), all: Bool = false) {
        let window = configuration.refusalWindow
        let events = refusals.withLock { buffer -> [TransferEvent] in
            var out = [TransferEvent]()
            buffer.rejections = buffer.rejections.filter { !all && now.timeIntervalSince($0.value.start) < window }
            for (key, pending) in buffer.open where all || now.timeIntervalSince(pending.start) >= window {
                buffer.open[key] = nil
                if let summary = pending.summary(key, now: now) { out.append(summary) }
            }
            return out.sorted { ($0.sourceAddress, $0.kind.rawValue) < ($1.sourceAddress, $1.kind.rawValue) }
        }
        write(events)
    }

    private func write(_ events: [TransferEvent]) {
        guard !events.isEmpty else { return }
        do {
            try store.record(events)
        } catch {
            log("cannot record \(events.count) refusals: \(error)")
        }
    }
}

/// Refusal windows open now, keyed by source and kind.
struct RefusalBuffer {
    struct Key: Hashable {
        let source: String
        let kind: TransferEvent.Kind
    }

    struct Pending {
        /// Names a summary quotes; the rest are only counted.
        static let quotedActors = 8

        let start: Date
        var suppressed = 0
        var actors: [String] = []

        init(start: Date) {
            self.start = start
        }

        mutating func add(_ actor: String) {
            suppressed += 1
            if actors.count < Self.quotedActors, !actors.contains(actor) { actors.append(actor) }
        }

        /// One entry for the refusals counted after the first, if any.
        func summary(_ key: Key, now: Date) -> TransferEvent? {
            guard suppressed > 0 else { return nil }
            let seconds = Int(now.timeIntervalSince(start).rounded(.up))
            return TransferEvent(
                time: now, kind: key.kind, actor: actors.count == 1 ? actors[0] : "several", sourceAddress: key.source, count: Int64(suppressed),
                detail: "\(suppressed) more refused in \(seconds) s (names offered: \(actors.joined(separator: ", ")))")
        }
    }

    var open: [Key: Pending] = [:]

    /// Rejected uploads recorded in full in the current window, per source.
    struct Burst {
        let start: Date
        let count: Int
    }

    var rejections: [String: Burst] = [:]
}
