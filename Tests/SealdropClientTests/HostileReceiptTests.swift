import Foundation
import SealdropClient
import SealdropFormat
import SealdropKeys
import SealdropLog
import Testing
import TestSupport

/// Receipts signed with the drop box's real, certified receipt key that
/// still do not say what they claim: entries about another transfer,
/// an empty receipt, an entry shown twice.
@Suite struct HostileReceiptTests {
    let id = String(repeating: "6b", count: 16)
    let other = String(repeating: "9e", count: 16)

    func entry(_ kind: String, transfer: String?, sequence: Int) -> [UInt8] {
        LogEntry(sequence: Int64(sequence), time: 1_700_000_000_000, kind: LogEntry.Kind(rawValue: kind)!, actor: "oldvendor", transfer: transfer)
            .encoded()
    }

    /// A receipt over `log`, listing the entries at `shown`, signed by the certified server key.
    func receipt(_ fixture: HostileFixture, log: [[UInt8]], shown: [Int], transfer: String) throws -> [UInt8] {
        let key = try VendorIdentity.load(path: fixture.directory.file("dropbox"), passphrase: .none).signingKey
        let hashes = log.map(MerkleTree.leafHash)
        let head = SignedTreeHead.sign(entries: log, at: Date(), with: key)
        let entries = shown.map { index in
            TransferReceipt.Entry(
                index: index, entry: Base64.encode(log[index]), proof: MerkleTree.inclusionProof(index: index, hashes[...]).map { Hex.encode($0) })
        }
        let certificate = String(decoding: fixture.read("ca/trust/server/dropbox.pem"), as: UTF8.self)
        let value = TransferReceipt(transfer: transfer, entries: entries, treeHead: head, serverCertificate: certificate)
        return [UInt8](try JSONEncoder().encode(value))
    }

    func expectBadReceipt(_ fixture: HostileFixture, _ bytes: [UInt8], saying: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        fixture.server.files["/receipts/\(id).json"] = bytes
        let dropBox = try fixture.client()
        let trust = try fixture.trustStore(dropBox, vendors: [])
        do {
            _ = try dropBox.receipt(id, trust: trust)
            Issue.record("the receipt was accepted", sourceLocation: sourceLocation)
        } catch let error as DropBoxError {
            #expect(error.code == .badReceipt, "\(error.message)", sourceLocation: sourceLocation)
            #expect(error.message.contains(saying), "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func aSoundReceiptVerifies() throws {
        let fixture = try HostileFixture()
        let log = [entry("login-accepted", transfer: nil, sequence: 1), entry("upload-published", transfer: id, sequence: 2)]
        fixture.server.files["/receipts/\(id).json"] = try receipt(fixture, log: log, shown: [1], transfer: id)
        let dropBox = try fixture.client()
        let verified = try dropBox.receipt(id, trust: try fixture.trustStore(dropBox, vendors: []))
        #expect(verified.receipt.entries.map(\.index) == [1])
    }

    /// Another transfer's "delivered", shown in this transfer's receipt:
    /// included in a genuinely signed head, but not about this transfer.
    @Test func anEntryAboutAnotherTransferIsRefused() throws {
        let fixture = try HostileFixture()
        let log = [entry("upload-published", transfer: id, sequence: 1), entry("delivered", transfer: other, sequence: 2)]
        try expectBadReceipt(fixture, try receipt(fixture, log: log, shown: [0, 1], transfer: id), saying: "not about transfer \(id)")
        let unrelated = [entry("upload-published", transfer: id, sequence: 1), entry("login-accepted", transfer: nil, sequence: 2)]
        try expectBadReceipt(fixture, try receipt(fixture, log: unrelated, shown: [0, 1], transfer: id), saying: "not about transfer \(id)")
    }

    @Test func anEmptyReceiptOrAnEntryShownTwiceIsRefused() throws {
        let fixture = try HostileFixture()
        let log = [entry("upload-published", transfer: id, sequence: 1), entry("delivered", transfer: id, sequence: 2)]
        try expectBadReceipt(fixture, try receipt(fixture, log: log, shown: [], transfer: id), saying: "no entry")
        try expectBadReceipt(fixture, try receipt(fixture, log: log, shown: [1, 1], transfer: id), saying: "twice")
        try expectBadReceipt(fixture, try receipt(fixture, log: log, shown: [1, 0], transfer: id), saying: "order")
    }
}
