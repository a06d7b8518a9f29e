import Foundation

/// A progress line on standard error when it is a terminal: bytes, percent,
/// rate, time left. Silent otherwise, or with --quiet.
final class Progress {
    private let label: String
    private let total: UInt64?
    private let enabled: Bool
    private let started = Date()
    private var lastDrawn = Date.distantPast

    init(_ label: String, total: UInt64?, quiet: Bool) {
        self.label = label
        self.total = total
        enabled = !quiet && Terminal.isTerminal(2)
    }

    func update(_ done: UInt64) {
        guard enabled, Date().timeIntervalSince(lastDrawn) > 0.2 else { return }
        lastDrawn = Date()
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done) / elapsed
        var line = "\(label): \(Self.size(done))"
        if let total, total > 0 {
            let left = rate > 0 ? Int(Double(total - min(done, total)) / rate) : 0
            line += " of \(Self.size(total)) (\(done * 100 / total)%), \(Self.size(UInt64(rate)))/s, \(left / 60)m\(left % 60)s left"
        } else {
            line += ", \(Self.size(UInt64(rate)))/s"
        }
        FileHandle.standardError.write(Data(("\r" + line + "\u{1b}[K").utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
    }

    static func size(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
