import Foundation
import SealdropClient
import SealdropFormat
import SealdropKeys
import SealdropLog
import Testing
import TestSupport

/// Every vendor's client witnesses the receipt log: a drop box that shows
/// this vendor a history that does not extend what it showed before (a
/// split view, a rewritten or shortened log) is caught on the next command.
@Suite struct HostileWitnessTests {
    static func log(_ count: Int, fork: Int? = nil) -> [[UInt8]] {
        (1...count).map { number in
            LogEntry(
                sequence: Int64(number), time: 1_767_225_600_000 + Int64(number), kind: .loginAccepted,
                actor: number == fork ? "someone-else" : "oldvendor", source: "192.0.2.1"
            ).encoded()
        }
    }

    /// What an honest `/receipts/head` (from nil) or `consistency-N.json` holds for `log`.
    static func published(_ fixture: HostileFixture, _ log: [[UInt8]], from: Int? = nil, keyFile: String = "dropbox") throws -> [UInt8] {
        let key = try VendorIdentity.load(path: fixture.directory.file(keyFile), passphrase: .none).signingKey
        let certificate = String(decoding: fixture.read("ca/trust/server/dropbox.pem"), as: UTF8.self)
        let head = PublishedHead.make(leafHashes: log.map(MerkleTree.leafHash), from: from, at: Date(), key: key, certificate: certificate)
        return [UInt8](try JSONEncoder().encode(head))
    }

    func witness(_ fixture: HostileFixture, _ file: String) throws -> WitnessedHead? {
        let dropBox = try fixture.client()
        return try dropBox.witnessTreeHead(trust: try fixture.trustStore(dropBox, vendors: []), file: file)
    }

    @Test func anHonestLogThatGrowsIsAccepted() throws {
        let fixture = try HostileFixture()
        let file = fixture.directory.file("witness.json")
        #expect(try witness(fixture, file) == nil, "no head published yet, none seen: nothing to check")
        fixture.server.files["/receipts/head"] = try Self.published(fixture, Self.log(3))
        #expect(try witness(fixture, file)?.head.size == 3)
        fixture.server.files["/receipts/consistency-3.json"] = try Self.published(fixture, Self.log(7), from: 3)
        let grown = try witness(fixture, file)
        #expect(grown?.head.size == 7 && grown?.previousSize == 3)
        let saved = try JSONDecoder().decode(SignedTreeHead.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(saved.size == 7)
    }

    @Test func aForkedLogIsReportedNamingBothHeadsAndTheSavedHeadIsKept() throws {
        let fixture = try HostileFixture()
        let file = fixture.directory.file("witness.json")
        fixture.server.files["/receipts/head"] = try Self.published(fixture, Self.log(4))
        let seen = try #require(try witness(fixture, file)).head
        let before = fixture.read("witness.json")
        // The drop box now shows this vendor a log whose second entry is
        // different, with a proof computed honestly over that other log.
        let forked = Self.log(6, fork: 2)
        fixture.server.files["/receipts/consistency-4.json"] = try Self.published(fixture, forked, from: 4)
        do {
            _ = try witness(fixture, file)
            Issue.record("a forked log was accepted")
        } catch let error as DropBoxError {
            #expect(error.code == .forkedLog)
            let forkedRoot = Hex.encode(MerkleTree.root(forked.map(MerkleTree.leafHash)[...]))
            #expect(error.message.contains(seen.root) && error.message.contains(forkedRoot), "\(error.message)")
            #expect(error.message.contains(file))
        }
        #expect(fixture.read("witness.json") == before, "the evidence is kept")
    }

    @Test func aShorterLogASameSizeRewriteOrAWithheldHeadIsAFork() throws {
        let fixture = try HostileFixture()
        let file = fixture.directory.file("witness.json")
        fixture.server.files["/receipts/head"] = try Self.published(fixture, Self.log(5))
        _ = try witness(fixture, file)
        for (name, served) in [
            ("shorter", try Self.published(fixture, Self.log(3), from: 5)), ("rewritten", try Self.published(fixture, Self.log(5, fork: 1), from: 5)),
        ] {
            fixture.server.files["/receipts/consistency-5.json"] = served
            #expect(throws: DropBoxError(.forkedLog, ""), "\(name)") { try witness(fixture, file) }
        }
        fixture.server.files["/receipts/consistency-5.json"] = nil
        #expect(throws: DropBoxError(.forkedLog, ""), "withheld") { try witness(fixture, file) }
    }

    @Test func aHeadNotSignedByTheCertifiedReceiptKeyIsRefused() throws {
        let fixture = try HostileFixture()
        // Signed with a vendor's key, shown with the server's certificate.
        fixture.server.files["/receipts/head"] = try Self.published(fixture, Self.log(2), keyFile: "oldvendor")
        #expect(throws: DropBoxError(.badReceipt, "")) { try witness(fixture, fixture.directory.file("witness.json")) }
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("witness.json")))
    }

    @Test func theCLIStopsOnAForkWithTheHint() throws {
        let fixture = try HostileFixture()
        fixture.server.files["/receipts/head"] = try Self.published(fixture, Self.log(4))
        let first = try fixture.sealdrop(["inbox"])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardError.contains("receipt log: 4 entries"), "\(first.standardError)")
        fixture.server.files["/receipts/consistency-4.json"] = try Self.published(fixture, Self.log(5, fork: 3), from: 4)
        let second = try fixture.sealdrop(["inbox"])
        #expect(second.status == 3, "\(second.standardError)")
        #expect(second.standardError.contains("forked") && second.standardError.contains("--witness-head"), "\(second.standardError)")
    }
}
