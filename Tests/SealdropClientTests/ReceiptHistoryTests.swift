import Foundation
import SealdropClient
import SealdropFormat
import SealdropKeys
import SealdropLog
import Testing
import TestSupport

/// A receipt must belong to the history the vendor witnessed: a drop box
/// that serves the real log's head and proofs but a forked log's receipt
/// (a split view), or a receipt signed by another drop box's certified key,
/// is caught, and the CLI saves nothing.
@Suite struct ReceiptHistoryTests {
    let id = String(repeating: "5c", count: 16)

    /// `count` entries; the last two are this transfer's, the others
    /// logins. `fork` changes who logged in at that position.
    func log(_ count: Int, fork: Int? = nil, ending: String = "delivered") -> [[UInt8]] {
        (1...count).map { number in
            let ours = number > count - 2
            return LogEntry(
                sequence: Int64(number), time: 1_767_225_600_000 + Int64(number),
                kind: ours ? (number == count ? LogEntry.Kind(rawValue: ending)! : .uploadPublished) : .loginAccepted,
                actor: number == fork ? "someone-else" : "oldvendor", transfer: ours ? id : nil
            ).encoded()
        }
    }

    /// The receipt over `log` for this transfer, signed by `keyFile` and shown with `certificate`.
    func receipt(_ fixture: HostileFixture, _ log: [[UInt8]], keyFile: String = "dropbox", certificate: String? = nil) throws -> [UInt8] {
        let key = try VendorIdentity.load(path: fixture.directory.file(keyFile), passphrase: .none).signingKey
        let hashes = log.map(MerkleTree.leafHash)
        let entries = [log.count - 2, log.count - 1].map { index in
            TransferReceipt.Entry(
                index: index, entry: Base64.encode(log[index]), proof: MerkleTree.inclusionProof(index: index, hashes[...]).map { Hex.encode($0) })
        }
        let shown = certificate ?? String(decoding: fixture.read("ca/trust/server/dropbox.pem"), as: UTF8.self)
        let head = SignedTreeHead.sign(entries: log, at: Date(), with: key)
        let value = TransferReceipt(transfer: id, entries: entries, treeHead: head, serverCertificate: shown)
        return [UInt8](try JSONEncoder().encode(value))
    }

    /// The fixture after the vendor witnessed the real log of 9 entries.
    func witnessedRealLog() throws -> (HostileFixture, String) {
        let fixture = try HostileFixture()
        let file = fixture.directory.file("witness.json")
        fixture.server.files["/receipts/head"] = try HostileWitnessTests.published(fixture, log(9))
        #expect(try HostileWitnessTests().witness(fixture, file)?.head.size == 9)
        return (fixture, file)
    }

    func check(_ fixture: HostileFixture, _ file: String) throws -> VerifiedReceipt {
        let dropBox = try fixture.client()
        return try dropBox.receipt(id, trust: try fixture.trustStore(dropBox, vendors: []), witnessed: try DropBoxClient.savedHead(file))
    }

    func expectForked(_ fixture: HostileFixture, _ file: String, saying: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try check(fixture, file)
            Issue.record("a receipt from another history was accepted", sourceLocation: sourceLocation)
        } catch let error as DropBoxError {
            #expect(error.code == .forkedLog, "\(error.message)", sourceLocation: sourceLocation)
            #expect(error.message.contains(saying), "\(error.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func aReceiptOverTheWitnessedLogOrOneProvenToExtendItIsAccepted() throws {
        let (fixture, file) = try witnessedRealLog()
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, log(9))
        #expect(try check(fixture, file).receipt.treeHead.size == 9)
        // The log grew after the witness: the proof from 9 leads to the receipt's head.
        let grown = log(9) + log(12).suffix(3)
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, grown)
        fixture.server.files["/receipts/consistency-9.json"] = try HostileWitnessTests.published(fixture, grown, from: 9)
        #expect(try check(fixture, file).receipt.treeHead.size == 12)
        // And grew again between the receipt and the proof: linked through the later head.
        let later = grown + log(15).suffix(3)
        fixture.server.files["/receipts/consistency-9.json"] = try HostileWitnessTests.published(fixture, later, from: 9)
        fixture.server.files["/receipts/consistency-12.json"] = try HostileWitnessTests.published(fixture, later, from: 12)
        #expect(try check(fixture, file).receipt.treeHead.size == 12)
    }

    /// R4: the real head and proofs, a forked log's receipt.
    @Test func aReceiptFromAForkedLogIsRefused() throws {
        let (fixture, file) = try witnessedRealLog()
        // Shorter and diverged: the proof from 7 the drop box can give is the real log's.
        let forked = log(7, fork: 2, ending: "revoked")
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, forked)
        expectForked(fixture, file, saying: "no consistency proof from size 7")
        fixture.server.files["/receipts/consistency-7.json"] = try HostileWitnessTests.published(fixture, log(9), from: 7)
        expectForked(fixture, file, saying: "not part of the history this profile witnessed")
        // The proof computed honestly over the fork leads to a head that is not the witnessed one.
        fixture.server.files["/receipts/consistency-7.json"] = try HostileWitnessTests.published(fixture, forked + log(9).suffix(2), from: 7)
        expectForked(fixture, file, saying: "different roots")
        // Same size as the witnessed head, another root.
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, log(9, fork: 3))
        expectForked(fixture, file, saying: "different roots")
        // Longer, diverged, with the fork's own proof from 9: it does not verify against the witnessed root.
        let longer = log(11, fork: 1)
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, longer)
        fixture.server.files["/receipts/consistency-9.json"] = try HostileWitnessTests.published(fixture, longer, from: 9)
        expectForked(fixture, file, saying: "consistency proof does not verify")
    }

    /// R4 variant: another drop box of the same CA signed the receipt.
    @Test func aReceiptSignedByAnotherDropBoxsCertifiedKeyIsRefused() throws {
        let (fixture, file) = try witnessedRealLog()
        let (key, certificate) = try WitnessRotationTests.newKey(fixture, name: "other-box", certified: true)
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, log(9), keyFile: key, certificate: certificate)
        expectForked(fixture, file, saying: "not by the receipt key whose log this profile witnessed")
        // Even with a longer log and that box's own proofs.
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, log(20), keyFile: key, certificate: certificate)
        expectForked(fixture, file, saying: "not by the receipt key whose log this profile witnessed")
    }

    @Test func withNoWitnessedHeadAReceiptIsNotTaken() throws {
        let fixture = try HostileFixture()
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, log(9))
        let dropBox = try fixture.client()
        #expect(throws: DropBoxError(.badReceipt, "")) {
            try dropBox.receipt(id, trust: try fixture.trustStore(dropBox, vendors: []), witnessed: nil)
        }
    }

    /// Through the real `sealdrop receipt`: exit 3 (forked log), and `-o` writes nothing.
    @Test func theCLIRefusesAForkedReceiptAndSavesNothing() throws {
        let fixture = try HostileFixture()
        fixture.server.files["/receipts/head"] = try HostileWitnessTests.published(fixture, log(9))
        fixture.server.files["/receipts/consistency-9.json"] = try HostileWitnessTests.published(fixture, log(9), from: 9)
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, log(9))
        let honest = try fixture.sealdrop(["receipt", id, "-o", "honest.json"])
        #expect(honest.status == 0, "\(honest.standardError)")
        #expect(!fixture.read("honest.json").isEmpty)
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, log(7, fork: 2, ending: "revoked"))
        fixture.server.files["/receipts/consistency-7.json"] = try HostileWitnessTests.published(fixture, log(9), from: 7)
        let forked = try fixture.sealdrop(["receipt", id, "-o", "forked.json"])
        #expect(forked.status == 3, "\(forked.standardError)")
        #expect(forked.standardError.contains("not part of the history"), "\(forked.standardError)")
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("forked.json")))
    }
}
