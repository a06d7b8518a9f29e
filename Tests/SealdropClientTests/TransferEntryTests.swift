import Foundation
import SealdropClient
import SealdropLayout
import SealdropSFTP
import Testing

/// The checks on listing entries and the one sanitiser, without a socket.
@Suite struct TransferEntryTests {
    let id = String(repeating: "c3", count: 16)

    func code(_ body: () throws -> TransferEntry) -> DropBoxError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? DropBoxError)?.code
        }
    }

    @Test func theLongNameFallbackReadsTheOwnerColumnUnderTheSameRules() throws {
        let entry = MaliciousServer.entry("\(id).sealdrop", owner: "oldvendor", size: 42, extended: [(DropBoxAttributes.expires, "1800000000")])
        let parsed = try TransferEntry.parse(entry, in: .inbox, vendor: "newvendor", typed: false)
        #expect(parsed.sender == "oldvendor" && parsed.size == 42 && parsed.expires == Date(timeIntervalSince1970: 1_800_000_000))
        let sent = try TransferEntry.parse(MaliciousServer.entry("\(id).sealdrop", owner: "delivered"), in: .sent, vendor: "oldvendor", typed: false)
        #expect(sent.state == "delivered" && sent.sender == "oldvendor")
        #expect(code { try TransferEntry.parse(MaliciousServer.entry("\(id).sealdrop", owner: "-rf"), in: .inbox, vendor: "x", typed: false) } == .invalidName)
        #expect(code { try TransferEntry.parse(MaliciousServer.entry("\(id).sealdrop", owner: "gone"), in: .sent, vendor: "x", typed: false) } == .invalidName)
        var bare = MaliciousServer.entry("\(id).sealdrop")
        bare.longname = Array("x".utf8)
        #expect(code { try TransferEntry.parse(bare, in: .inbox, vendor: "x", typed: false) } == .missingAttribute)
        bare.longname = [UInt8](repeating: 0x20, count: 600)
        #expect(code { try TransferEntry.parse(bare, in: .inbox, vendor: "x", typed: false) } == .tooLarge)
    }

    @Test func aSentEntryMustBeMine() {
        let extended = [
            (DropBoxAttributes.sender, "stranger"), (DropBoxAttributes.recipient, "newvendor"), (DropBoxAttributes.state, "available"),
            (DropBoxAttributes.expires, "1"),
        ]
        #expect(
            code { try TransferEntry.parse(MaliciousServer.entry("\(id).sealdrop", extended: extended), in: .sent, vendor: "oldvendor", typed: true) }
                == .wrongEnvelope)
    }

    @Test func theSanitiserEscapesControlsAndBidiAndCuts() throws {
        #expect(UntrustedText.printable("a\u{1b}[31mb\u{202E}c\u{2028}d") == "a\\u{1b}[31mb\\u{202e}c\\u{2028}d")
        #expect(UntrustedText.fromServer(String(repeating: "x", count: 10_000)).count == UntrustedText.maximumShownLength + 1)
        #expect(UntrustedText.fromServer([0xff, 0x41]) == "\u{FFFD}A")
        // What --json prints of it holds no raw control or bidi character either.
        let json = try JSONSerialization.data(withJSONObject: ["name": UntrustedText.printable("\u{202E}\u{7}")])
        #expect(isTerminalSafe(String(decoding: json, as: UTF8.self)))
    }
}
