import Foundation
import SealdropFormat
import SealdropKeys
import SealdropLog
import Testing
import TestSupport

/// The receipt log, exported from a real server and verified offline.
@Suite struct ReceiptLogTests {
    /// A server that has seen an upload and a delivery, its receipt key certified.
    static func exportedBundle() throws -> (ServerFixture, String) {
        let server = try ServerFixture()
        let envelope = try server.seal(Fixtures.bytes(5000))
        #expect(try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        #expect(try server.sftp("newvendor", ["get /inbox/*.sealdrop got.sealdrop"]).status == 0)
        let certified = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server",
        ])
        #expect(certified.status == 0, "\(certified.standardError)")
        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.json", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
        #expect(exported.status == 0, "\(exported.standardError)")
        return (server, server.directory.file("log.json"))
    }

    static func verify(_ server: ServerFixture, _ bundle: String, _ extra: [String] = []) throws -> ProcessResult {
        try server.sealdrop(["audit", "verify", bundle, "--ca", "ca/trust/ca.pem"] + extra)
    }

    static func load(_ path: String) throws -> LogExport {
        try LogExport(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
    }

    static func edit(_ path: String, _ change: (inout LogExport) -> Void) throws -> String {
        var bundle = try load(path)
        change(&bundle)
        let edited = path + ".edited-\(UUID().uuidString)"
        try Data(bundle.encoded()).write(to: URL(fileURLWithPath: edited))
        return edited
    }

    @Test func anUntouchedLogVerifiesAndRecordsTheTransfer() throws {
        let (server, bundle) = try Self.exportedBundle()
        let result = try Self.verify(server, bundle, ["--save-head", "head.json"])
        #expect(result.status == 0, "\(result.standardError)")
        let log = try Self.load(bundle)
        let kinds = log.entries.compactMap {
            String(decoding: $0, as: UTF8.self).split(separator: "\"kind\":\"").dropFirst().first?.prefix { $0 != "\"" }
        }
        for kind in ["login-accepted", "upload-published", "claimed", "delivered", "deleted"] {
            #expect(kinds.contains(Substring(kind)), "missing \(kind)")
        }
        #expect(!log.entries.contains { String(decoding: $0, as: UTF8.self).contains("SEALDROP") }, "entries hold facts, never file contents")
    }

    @Test func theReportIsSelfContainedAndComplete() throws {
        let (server, bundle) = try Self.exportedBundle()
        let report = try server.sealdrop(["audit", "report", bundle, "--ca", "ca/trust/ca.pem", "--html", "r.html", "--csv", "r.csv", "--json", "r.json"])
        #expect(report.status == 0, "\(report.standardError)")
        let html = String(decoding: try server.directory.read("r.html"), as: UTF8.self)
        let log = try Self.load(bundle)
        #expect(html.contains("Verdict: the log is complete and unaltered"))
        #expect(html.contains("delivered"))
        #expect(html.contains("oldvendor <span class=\"arrow\">→</span> newvendor"))
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"), "no external assets")
        let csv = String(decoding: try server.directory.read("r.csv"), as: UTF8.self).split(separator: "\r\n")
        #expect(csv.count == 2)
        #expect(csv[0].hasPrefix("\"transfer\",\"sender\",\"recipient\""))
        #expect(csv[1].contains("\"oldvendor\",\"newvendor\""))
        let json = try JSONSerialization.jsonObject(with: Data(try server.directory.read("r.json"))) as? [String: Any]
        #expect((json?["transfers"] as? [[String: String]])?.first?["outcome"] == "delivered")
        #expect(log.header.treeHead.size > 0)

        for filter in [["--since", "2999-01-01"], ["--until", "2000-01-01"], ["--vendor", "stranger"]] {
            #expect(try server.sealdrop(["audit", "report", bundle, "--ca", "ca/trust/ca.pem", "--csv", "f.csv"] + filter).status == 0)
            #expect(String(decoding: try server.directory.read("f.csv"), as: UTF8.self).split(separator: "\r\n").count == 1, "\(filter) leaves only the header")
        }
        #expect(try server.sealdrop(["audit", "report", bundle, "--ca", "ca/trust/ca.pem", "--csv", "f.csv", "--vendor", "newvendor"]).status == 0)
        #expect(String(decoding: try server.directory.read("f.csv"), as: UTF8.self).split(separator: "\r\n").count == 2)

        let broken = try Self.edit(bundle) { $0.entries.swapAt(1, 2) }
        let failing = try server.sealdrop(["audit", "report", broken, "--ca", "ca/trust/ca.pem", "--html", "bad.html"])
        #expect(failing.status == 3)
        #expect(String(decoding: try server.directory.read("bad.html"), as: UTF8.self).contains("Verdict: verification FAILED"))
    }

    @Test func everyTamperingIsNamed() throws {
        let (server, bundle) = try Self.exportedBundle()
        let cases: [(String, (inout LogExport) -> Void, String)] = [
            (
                "an entry edited",
                {
                    $0.entries[2] = Array(String(decoding: $0.entries[2], as: UTF8.self).replacingOccurrences(of: "newvendor", with: "stranger").utf8)
                }, "do not hash to the signed root"
            ),
            ("an entry deleted", { $0.entries.remove(at: 1) }, "entries were added or removed"),
            ("two entries swapped", { $0.entries.swapAt(1, 2) }, "do not hash to the signed root"),
            ("the log truncated", { $0.entries.removeLast() }, "entries were added or removed"),
            ("the head's signature changed", { $0.header.treeHead.signature = String($0.header.treeHead.signature.reversed()) }, "signature does not verify"),
            ("the head replaced", { $0.header.treeHead.root = String(repeating: "0", count: 64) }, "signature does not verify"),
        ]
        for (name, change, expected) in cases {
            let result = try Self.verify(server, try Self.edit(bundle, change))
            #expect(result.status == 3, "\(name)")
            #expect(result.standardError.contains(expected), "\(name): \(result.standardError)")
        }
    }

    @Test func theExportIsJSONLinesAndTheOlderBundleIsStillVerified() throws {
        let (server, bundle) = try Self.exportedBundle()
        let text = try String(contentsOfFile: bundle, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.first?.hasPrefix("{\"caCertificate\":") == true && lines.first?.contains("\"format\":\"sealdrop-log-lines-v1\"") == true)
        let log = try Self.load(bundle)
        #expect(lines.dropFirst().map { Array($0.utf8) } == log.entries, "each entry verbatim on its own line")
        #expect(text.hasSuffix("\n"))
        let mode = try FileManager.default.attributesOfItem(atPath: bundle)[.posixPermissions] as? Int
        #expect(mode == 0o600, "the export holds vendors' names and addresses: owner only")

        // The one-document bundle of before verifies the same, and its tampering is caught the same.
        let legacy = LogBundle(
            entries: log.entries, treeHead: log.header.treeHead, serverCertificate: log.header.serverCertificate,
            caCertificate: log.header.caCertificate, revocations: log.header.revocations, vendorCertificates: log.header.vendorCertificates)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(legacy).write(to: URL(fileURLWithPath: server.directory.file("legacy.json")))
        let verified = try Self.verify(server, "legacy.json")
        #expect(verified.status == 0, "\(verified.standardError)")
        var swapped = legacy
        swapped.entries.swapAt(1, 2)
        try encoder.encode(swapped).write(to: URL(fileURLWithPath: server.directory.file("legacy-swapped.json")))
        #expect(try Self.verify(server, "legacy-swapped.json").standardError.contains("do not hash to the signed root"))

        // Anything else is refused with the format it should have been.
        _ = try server.directory.write(Array("sequence,time,kind\n1,2,3\n".utf8), to: "log.csv")
        let refused = try Self.verify(server, "log.csv")
        #expect(refused.status == 3)
        #expect(
            refused.standardError
                == "sealdrop: error: log.csv is not a sealdrop log export: its first line is not a JSON object: not a sealdrop log export\n"
                + "sealdrop: hint: export the log with 'sealdropd log export -o FILE' (format sealdrop-log-lines-v1)\n")
        // A line that is not an entry is named by its number.
        _ = try server.directory.write(Array((String(lines[0]) + "\n\"%%%\"\n").utf8), to: "bad-line.jsonl")
        let badLine = try Self.verify(server, "bad-line.jsonl")
        #expect(badLine.status == 3)
        #expect(badLine.standardError.contains("line 2 (entry 1) is a string but not the Base64 of an entry"), "\(badLine.standardError)")
    }

    @Test func aHeadSignedByAnotherKeyAndARewrittenHistoryAreCaught() throws {
        let (server, bundle) = try Self.exportedBundle()
        #expect(try Self.verify(server, bundle, ["--save-head", "head.json"]).status == 0)
        // Another server certificate (the example "dropbox" one) is not the key that signed this head.
        let foreign = try Self.edit(bundle) {
            $0.header.serverCertificate = (try? String(contentsOfFile: server.trust + "/server/dropbox.pem", encoding: .utf8)) ?? ""
        }
        #expect(try Self.verify(server, foreign).standardError.contains("signature does not verify"))
        // More activity, then a new export: it must extend the saved head.
        #expect(try server.sftp("oldvendor", ["ls /"]).status == 0)
        let later = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "later.json", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
        #expect(later.status == 0)
        #expect(try Self.verify(server, "later.json", ["--since-head", "head.json"]).status == 0)
        // A server rewrites an old entry and signs a fresh head with its own
        // receipt key: only the saved head can catch it.
        let receiptKey = try VendorIdentity.load(path: server.data + "/receipt_ed25519_key", passphrase: .none)
        let rewritten = try Self.edit(server.directory.file("later.json")) { bundle in
            var entries = bundle.entries
            entries[1] = Array(String(decoding: entries[1], as: UTF8.self).replacingOccurrences(of: "127.0.0.1", with: "10.9.9.9").utf8)
            bundle.entries = entries
            bundle.header.treeHead = SignedTreeHead.sign(entries: entries, at: Date(), with: receiptKey.signingKey)
        }
        #expect(try Self.verify(server, rewritten).status == 0, "on its own, a re-signed log is consistent")
        let result = try Self.verify(server, rewritten, ["--since-head", "head.json"])
        #expect(result.status == 3)
        #expect(result.standardError.contains("history was rewritten"), "\(result.standardError)")
    }
}
