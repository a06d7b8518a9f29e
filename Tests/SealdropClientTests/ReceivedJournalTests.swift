import Foundation
import SealdropClient
import Testing
import TestSupport

/// Two runs of one profile, each with the journal it loaded at start:
/// the second to record must not drop the first one's id (which would let
/// that transfer be served and received again).
@Suite struct ReceivedJournalTests {
    @Test func recordingKeepsIDsAnotherRunRecordedMeanwhile() throws {
        let directory = try TemporaryDirectory()
        let file = directory.file("default.received")
        var first = try ReceivedJournal(file: file)
        var second = try ReceivedJournal(file: file)
        let one = String(repeating: "1a", count: 16)
        let two = String(repeating: "2b", count: 16)
        try first.record(one)
        try second.record(two)
        let reloaded = try ReceivedJournal(file: file)
        #expect(reloaded.contains(one) && reloaded.contains(two))
        #expect(second.contains(one), "the run that recorded last knows both")
    }
}
