import Foundation
import SealdropCrypto
import SealdropFormat
@_spi(TestVectors) import SealdropLog
import TestSupport
import Testing

/// The JSON-lines export (spec §4): every vector case read whole, streamed
/// from a file, and split at every byte; the legacy bundle still read.
@Suite struct LogExportTests {
    static let directory = Fixtures.root + "/Tests/Vectors/log-v1"

    /// Entries of `bytes` as the streaming reader sees them from a file.
    static func stream(_ bytes: [UInt8]) throws -> (LogExport.Header, [[UInt8]]) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-export-\(UUID().uuidString).jsonl").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = try LogExportReader(path: path)
        var entries = [[UInt8]]()
        try reader.forEachEntry { entries.append($0) }
        return (reader.header, entries)
    }

    static func code(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "ok"
        } catch let error as LogExportError {
            return error.code.rawValue
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func everyVectorCaseReadsAsExpected() throws {
        let cases = try JSONDecoder().decode(
            [LogVectors.ExportCase].self, from: Data(contentsOf: URL(fileURLWithPath: Self.directory + "/export.json")))
        #expect(cases.count >= 10)
        for item in cases {
            let file = try #require(Base64.decode(item.file))
            var whole: [[UInt8]]?
            #expect(Self.code { whole = try LogExport(bytes: file).entries } == item.expect, "\(item.name), read whole")
            var streamed: [[UInt8]]?
            #expect(Self.code { streamed = try Self.stream(file).1 } == item.expect, "\(item.name), streamed")
            guard item.expect == "ok" else { continue }
            #expect(whole == streamed, "\(item.name)")
            #expect(whole?.count == item.entries, "\(item.name)")
            #expect(whole.map { Hex.encode(MerkleTree.root($0.map(MerkleTree.leafHash)[...])) } == item.root, "\(item.name)")
        }
    }

    @Test func theSampleExportIsTheSampleLogUnderItsHead() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.directory + "/export.jsonl")))
        let export = try LogExport(bytes: bytes)
        #expect(export.entries == LogVectors.sampleLog())
        #expect(export.header.format == LogExport.format)
        #expect(export.header.treeHead.size == export.entries.count)
        #expect(export.header.treeHead.isSigned(by: LogVectors.key().publicKey))
        // Each entry is its own line, verbatim: an officer can grep the file.
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        #expect(lines.dropFirst().map { Array($0.utf8) } == LogVectors.sampleLog())
        #expect(export.encoded() == bytes, "decode then encode reproduces the file byte for byte")
    }

    @Test func linesSplitTheSameWhateverTheReadSizes() {
        let file = LogVectors.sampleExport().encoded()
        for piece in [1, 2, 3, 7, 64, 1000] {
            var splitter = LogExportReader.LineSplitter()
            var lines = [[UInt8]]()
            var start = 0
            while start < file.count {
                let end = min(file.count, start + piece)
                splitter.feed(file[start..<end]) { lines.append(Array($0)) }
                start = end
            }
            if let last = splitter.finish() { lines.append(last) }
            #expect(lines.count == 8, "pieces of \(piece)")
            #expect(Array(lines.dropFirst()) == LogVectors.sampleLog(), "pieces of \(piece)")
        }
    }

    @Test func theLegacyBundleIsStillRead() throws {
        let sample = LogVectors.sampleExport()
        let bundle = LogBundle(
            entries: sample.entries, treeHead: sample.header.treeHead, serverCertificate: "s", caCertificate: "c", revocations: "",
            vendorCertificates: [])
        for formatting in [JSONEncoder.OutputFormatting.prettyPrinted, [.sortedKeys]] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = formatting
            let (header, entries) = try Self.stream(Array(try encoder.encode(bundle)))
            #expect(entries == sample.entries)
            #expect(header.treeHead == sample.header.treeHead)
            #expect(header.serverCertificate == "s")
        }
        var broken = bundle
        broken.entries[2] = "not base64!"
        #expect(Self.code { _ = try Self.stream(Array(try JSONEncoder().encode(broken))) } == "bad-line")
        broken = bundle
        broken.format = "sealdrop-log-v0"
        #expect(Self.code { _ = try Self.stream(Array(try JSONEncoder().encode(broken))) } == "unknown-format")
    }

    @Test func aLineLongerThanTheLimitIsRefusedBeforeItIsHeld() throws {
        var file = LogVectors.sampleExport().header.encoded() + [0x0A]
        file += [UInt8](repeating: UInt8(ascii: "x"), count: LogExport.maximumLineLength + LogExportReader.chunkSize + 1)
        #expect(Self.code { _ = try Self.stream(file) } == "bad-line")
    }

    @Test func aMissingFileIsUnreadable() {
        #expect(Self.code { _ = try LogExportReader(path: "/nonexistent/log.jsonl") } == "unreadable")
    }
}
