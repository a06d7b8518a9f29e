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

/// A recipient opening and closing its download in a loop: each claim and
/// release is a log entry, so past a budget the OPEN is refused (and the
/// refusals counted), while another vendor's attempts use none of it.
@Suite struct ClaimFloodTests {
    @Test func openingOneDownloadInALoopIsSlowedDown() throws {
        let world = try DropBoxWorld()
        #expect(SessionTests.isOK(world.upload(try world.envelope(), as: try world.session("oldvendor"))))
        let recipient = try world.session("newvendor")
        let name = try #require(world.inboxIDs(recipient).first)
        let path = Array("/inbox/\(name)".utf8)
        // Another vendor trying the id first takes nothing from the recipient's budget.
        let stranger = try world.session("stranger")
        for attempt in 0..<(2 * ClaimBudget.claimsPerWindow) {
            guard case .status? = stranger.handle(.open(id: UInt32(attempt), path: path, flags: .read, attributes: .empty)).first else {
                Issue.record("another vendor opened the transfer")
                return
            }
        }
        let before = try world.dropBox.events().count
        var opened = 0
        var refusal: String?
        for attempt in 0..<200 {
            switch recipient.handle(.open(id: UInt32(attempt), path: path, flags: .read, attributes: .empty)).first {
            case .handle(_, let handle)?:
                opened += 1
                _ = recipient.handle(.close(id: UInt32(attempt), handle: handle))
            case .status(_, .failure, let message)?:
                refusal = message
            case let other:
                Issue.record("unexpected \(String(describing: other))")
            }
        }
        #expect(opened == ClaimBudget.claimsPerWindow)
        #expect(refusal?.contains("wait a minute") == true, "\(String(describing: refusal))")
        world.dropBox.flushRefusals(all: true)
        let added = try world.dropBox.events().dropFirst(before)
        #expect(added.count <= 2 * ClaimBudget.claimsPerWindow + 2, "\(added.count) entries for 200 opens")
        #expect(try world.dropBox.store.inbox(recipient: "newvendor").count == 1, "the transfer is still there, unclaimed")
    }
}
