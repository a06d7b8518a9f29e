import SealdropLayout
import Testing

@Suite struct VirtualPathTests {
    let id = String(repeating: "ab", count: 16)

    @Test func resolvesEveryKindOfPath() {
        #expect(VirtualPath.resolve(Array("/".utf8)) == .root)
        #expect(VirtualPath.resolve(Array("inbox".utf8)) == .inbox)
        #expect(VirtualPath.resolve(Array("/inbox/\(id).sealdrop".utf8)) == .inboxFile(transferID: id))
        #expect(VirtualPath.resolve(Array("/sent/\(id).sealdrop".utf8)) == .sentFile(transferID: id))
        #expect(VirtualPath.resolve(Array("/outbox/acme-lis/x.sealdrop".utf8)) == .outboxFile(vendor: "acme-lis", name: "x.sealdrop"))
        #expect(VirtualPath.resolve(Array("/receipts/\(id).ack".utf8)) == .acknowledgment(transferID: id))
        #expect(VirtualPath.resolve(Array("/receipts/\(id).declaration".utf8)) == .declaration(transferID: id))
        #expect(VirtualPath.resolve(Array("/receipts/\(id).json".utf8)) == .receiptFile(transferID: id))
        #expect(VirtualPath.resolve(Array("/directory/ca.pem".utf8)) == .directoryFile(name: "ca.pem"))
    }

    @Test func headAndConsistencyFiles() {
        #expect(VirtualPath.resolve(Array("/receipts/head".utf8)) == .receiptHead)
        #expect(VirtualPath.resolve(Array("/receipts/consistency-42.json".utf8)) == .receiptConsistency(from: 42))
        for bad in [
            "consistency-0.json", "consistency-042.json", "consistency--1.json", "consistency-+1.json", "consistency-1.JSON",
            "consistency-9007199254740993.json", "consistency-99999999999999999999.json", "consistency-.json", "head.json", "HEAD",
        ] {
            #expect(VirtualPath.resolve(Array("/receipts/\(bad)".utf8)) == nil, "\(bad)")
        }
    }

    @Test func dotDotStopsAtTheRoot() {
        #expect(VirtualPath.resolve(Array("/../../etc/passwd".utf8)) == nil)
        #expect(VirtualPath.resolve(Array("/../../inbox".utf8)) == .inbox)
        #expect(VirtualPath.resolve(Array("/inbox/./../sent".utf8)) == .sent)
    }

    @Test func refusesOddBytes() {
        #expect(VirtualPath.resolve([0x2f, 0x69, 0x00]) == nil)
        #expect(VirtualPath.resolve([0x2f, 0xff, 0xfe]) == nil)
        #expect(VirtualPath.resolve([UInt8](repeating: 0x2f, count: VirtualPath.maximumLength + 1)) == nil)
    }

    @Test func canonicalRoundTrips() {
        let paths: [VirtualPath] = [
            .root, .inbox, .inboxFile(transferID: id), .outbox, .outboxVendor(name: "b"), .outboxFile(vendor: "b", name: "f"),
            .sent, .sentFile(transferID: id), .directory, .directoryFile(name: "ca.pem"), .receipts, .receiptFile(transferID: id),
            .acknowledgment(transferID: id), .declaration(transferID: id), .receiptHead, .receiptConsistency(from: 1),
            .receiptConsistency(from: 1 << 53),
        ]
        for path in paths { #expect(VirtualPath.resolve(Array(path.canonical.utf8)) == path) }
    }

    @Test func transferIDsAreLowerCaseHex() {
        #expect(TransferID.isValid(id))
        #expect(!TransferID.isValid(id.uppercased()))
        #expect(!TransferID.isValid(String(id.dropLast())))
        #expect(!TransferID.isValid(String(id.dropLast()) + "g"))
        #expect(!TransferID.isValid("../" + String(id.dropFirst(3))))
        #expect(TransferID.parse(fileName: id + ".sealdrop", suffix: ".sealdrop") == id)
        #expect(TransferID.parse(fileName: id + ".json", suffix: ".sealdrop") == nil)
    }

    @Test func vendorNames() {
        #expect(VendorNameRule.problem(with: "acme-lis") == nil)
        #expect(VendorNameRule.problem(with: "") == "it is empty")
        #expect(VendorNameRule.problem(with: "-a") == "it must not start or end with a hyphen")
        #expect(VendorNameRule.problem(with: "../x") == "only lower-case letters, digits and hyphens are allowed")
        #expect(VendorNameRule.problem(with: String(repeating: "a", count: 64)) == "it is longer than 63 characters")
    }
}
