import Foundation
import SealdropFormat
@_spi(TestVectors) @testable import SealdropLog
import Testing

@Suite struct LogEntryTests {
    /// Entries written before the codec existed came from `JSONSerialization`
    /// with sorted keys: the codec writes the same bytes, so old logs still
    /// verify and re-encode identically.
    @Test func encodesAsTheLogAlwaysHas() throws {
        var texts = ["", "plain", "a/b", "quote \" and \\ backslash", "é € 😀 \u{2028}", "\u{7f}"]
        texts += (0..<0x20).map { String(UnicodeScalar(UInt8($0))) + "x" }
        for (index, text) in texts.enumerated() {
            let entry = LogEntry(
                sequence: Int64(index + 1), time: 1_767_225_600_123, kind: .uploadPublished, actor: text, source: "::1",
                transfer: LogVectors.transferA, recipient: "globex", size: UInt64.max, sha256: LogVectors.hashA, expires: -5, count: 7, detail: text)
            let fields: [String: Any] = [
                "sequence": entry.sequence, "time": entry.time, "kind": entry.kind.rawValue, "actor": text, "source": "::1",
                "transfer": LogVectors.transferA, "recipient": "globex", "size": UInt64.max, "sha256": LogVectors.hashA, "expires": Int64(-5),
                "count": Int64(7), "detail": text,
            ]
            let reference = [UInt8](try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
            #expect(entry.encoded() == reference, "\(text.unicodeScalars.map { $0.value })")
            #expect(try LogEntry(decoding: entry.encoded()) == entry)
        }
    }

    @Test func invalidUTF8InAStringIsRefusedNeverRepaired() {
        let valid = LogEntry(sequence: 1, time: 0, kind: .loginRefused, actor: "ab", source: "192.0.2.1").encoded()
        for bad: [UInt8] in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF]] {
            var bytes = valid
            let at = bytes.firstIndex(of: UInt8(ascii: "b"))!
            bytes.replaceSubrange(at...at, with: bad)
            #expect(throws: LogEntryError.self) { try LogEntry(decoding: bytes) }
        }
    }

    @Test func unknownKindIsAnErrorNeverAnotherKind() {
        let bytes = Array(#"{"actor":"a","detail":"","kind":"teleported","sequence":1,"source":"","time":0}"#.utf8)
        #expect(throws: LogEntryError(.unknownKind, "")) { try LogEntry(decoding: bytes) }
    }

    @Test func everyKindRoundTrips() throws {
        for kind in LogEntry.Kind.allCases {
            let entry = LogEntry(sequence: 9, time: 0, kind: kind, actor: "server")
            #expect(try LogEntry(decoding: entry.encoded()) == entry)
        }
    }

    @Test func booleansAndFractionsAreNotIntegers() {
        for text in [
            #"{"actor":"a","detail":"","kind":"claimed","sequence":true,"source":"","time":0}"#,
            #"{"actor":"a","detail":"","kind":"claimed","sequence":1.5,"source":"","time":0}"#,
        ] {
            #expect(throws: LogEntryError(.invalidField, "")) { try LogEntry(decoding: Array(text.utf8)) }
        }
        // Written as a fraction, a whole number is still not the canonical entry.
        let fraction = #"{"actor":"a","detail":"","kind":"claimed","sequence":1,"size":1.0,"source":"","time":0}"#
        #expect(throws: LogEntryError.self) { try LogEntry(decoding: Array(fraction.utf8)) }
    }

    /// The direct scan sound logs take and the general decoder agree on
    /// every vector entry the scan accepts.
    @Test func theScanAndTheGeneralDecoderAgree() throws {
        for item in LogVectors.entryCases() {
            let bytes = try #require(Base64.decode(item.entry))
            guard let scanned = LogEntry.scanCanonical(bytes) else { continue }
            #expect(try LogEntry.decodeGeneral(bytes) == scanned, "\(item.name)")
        }
        #expect(LogVectors.entryCases().filter { LogEntry.scanCanonical(Base64.decode($0.entry)!) != nil }.count > 20)
    }
}
