import Foundation
@testable import SealdropServer
import SealdropStore
import Testing

/// A vendor that uploads junk in a loop: every rejection is on the record,
/// but the log is append-only and kept for years, so a flood must not add
/// one entry per attempt without bound.
@Suite struct RejectionFloodTests {
    @Test func aFloodOfRejectedUploadsIsCountedNotLoggedOneByOne() throws {
        let world = try DropBoxWorld()
        // One window for the whole flood, however slow the machine.
        world.configuration.refusalWindow = 3600
        try world.reopen()
        let session = try world.session("oldvendor")
        let before = try world.dropBox.events().count
        let attempts = 300
        for attempt in 0..<attempts {
            let junk: [UInt8] = attempt % 2 == 0 ? [] : Array("not an envelope \(attempt)".utf8)
            guard case .status(_, .failure, let message) = world.upload(junk, as: session) else {
                Issue.record("junk was accepted")
                return
            }
            #expect(message.hasPrefix("upload rejected: "))
        }
        world.dropBox.flushRefusals(all: true)
        let entries = try world.dropBox.events().dropFirst(before)
        let rejected = entries.filter { $0.kind == .uploadRejected }
        // The first few in full (what was refused and why), then one count.
        #expect(rejected.count <= DropBox.individualRejectionsPerWindow + 2, "\(rejected.count) entries for \(attempts) attempts")
        #expect(rejected.prefix(DropBox.individualRejectionsPerWindow).allSatisfy { $0.size != nil && !$0.detail.contains("more refused") })
        let counted = rejected.compactMap { entry -> Int? in
            guard let range = entry.detail.range(of: " more refused") else { return nil }
            return Int(entry.detail[..<range.lowerBound].split(separator: " ").last ?? "")
        }.reduce(0, +)
        #expect(rejected.count - (counted > 0 ? 1 : 0) + counted == attempts, "every attempt is on the record, one by one or counted")
        #expect(world.staging().isEmpty)
    }
}
