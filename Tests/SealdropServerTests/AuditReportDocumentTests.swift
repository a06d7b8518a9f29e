import Foundation
import Testing
import TestSupport

/// `sealdrop audit report` as the document a compliance officer files: the
/// verdict and what was verified on top, refusals counted, a layout that
/// fits 1280 px in a real browser (headless Chromium), and a PDF of A4
/// landscape pages (`pdfinfo`).
@Suite(.serialized) struct AuditReportDocumentTests {
    /// A server that saw a delivery, a rejected upload, a flood of refused
    /// operations and a failed login, stopped (so the counted refusals are
    /// written), its log exported.
    static func eventfulExport() throws -> ServerFixture {
        let server = try ServerFixture()
        let envelope = try server.seal(Fixtures.bytes(5000))
        #expect(try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        #expect(try server.sftp("newvendor", ["get /inbox/*.sealdrop got.sealdrop"]).status == 0)
        _ = try server.directory.write(Array("name;diagnosis\nsomeone;something\n".utf8), to: "plain.csv")
        _ = try server.sftp("oldvendor", ["put plain.csv /outbox/newvendor/"])
        // Seven refused operations in one window: one entry in full, one counting six.
        _ = try server.sftp("oldvendor", (1...7).map { "-mkdir /outbox/d\($0)" })
        _ = try server.sftp("intruder", identity: "oldvendor", ["ls /"])
        #expect(
            try server.sealdrop(["ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server"])
                .status == 0)
        server.stop()
        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.jsonl", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
        #expect(exported.status == 0, "\(exported.standardError)")
        return server
    }

    static func chromium() throws -> String {
        try #require(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "headless Chromium is needed (ops/test installs Debian's chromium)")
    }

    @Test func theReportIsADocumentThatFitsTheScreenAndPrintsToA4Landscape() throws {
        let server = try Self.eventfulExport()
        let report = try server.sealdrop([
            "audit", "report", "log.jsonl", "--ca", "ca/trust/ca.pem", "--html", "report.html", "--pdf", "report.pdf", "--json", "report.json",
        ])
        #expect(report.status == 0, "\(report.standardError)")
        let html = String(decoding: try server.directory.read("report.html"), as: UTF8.self)

        // The top says, in words, what was proven, before any table.
        let verdict = try #require(html.range(of: "Verdict: the log is complete and unaltered"))
        let table = try #require(html.range(of: "<table"))
        #expect(verdict.lowerBound < table.lowerBound)
        for phrase in ["What was verified", "Period covered", "Signed tree head", "receipts</b> (role server", "Trusted authority", "Glossary"] {
            #expect(html.contains(phrase), "missing \(phrase)")
        }
        // Hashes are shortened in the rows, whole in the timeline.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try server.directory.read("report.json"))) as? [String: Any])
        let transfer = try #require((json["transfers"] as? [[String: String]])?.first)
        let sha = try #require(transfer["sha256"])
        #expect(html.components(separatedBy: sha).count == 2, "the full hash appears once, in the timeline")
        #expect(html.contains("<details><summary>timeline"))
        #expect(html.contains("<span class=\"entry\">entry "))
        #expect(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"), "self-contained")
        #expect(html.contains("@page { size: A4 landscape"))

        // Refusals are counted, the aggregated entry for what it stands for.
        let refusals = try #require(json["refusals"] as? [[String: Any]])
        let operations = refusals.filter { $0["kind"] as? String == "refused-operation" }
        #expect(operations.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 7, "\(operations)")
        #expect(operations.count == 1, "one reason, one group: \(operations)")
        #expect(refusals.contains { $0["kind"] as? String == "upload-rejected" && ($0["count"] as? Int) == 1 })
        #expect((json["failedLoginsBySource"] as? [String: Int])?["127.0.0.1"] == 1, "\(json["failedLoginsBySource"] ?? "none")")

        // In a real browser at 1280 px: no horizontal scroll, no cell spilling over.
        let chromium = try Self.chromium()
        let probe = html.replacingOccurrences(
            of: "</body>",
            with: """
                <script>
                var spill = 0; document.querySelectorAll('td, th, dd, li').forEach(function (n) { if (n.scrollWidth > n.clientWidth + 1) spill++; });
                document.title = 'layout ' + document.documentElement.scrollWidth + ' ' + document.documentElement.clientWidth + ' ' + spill;
                </script></body>
                """)
        _ = try server.directory.write(Array(probe.utf8), to: "probe.html")
        let root = getuid() == 0 ? ["--no-sandbox"] : []
        let dumped = try Subprocess.run(
            chromium,
            root + [
                "--headless", "--disable-gpu", "--window-size=1280,1000", "--user-data-dir=" + server.directory.file("chromium-profile"), "--dump-dom",
                URL(fileURLWithPath: server.directory.file("probe.html")).absoluteString,
            ])
        let title = try #require(
            dumped.output.range(of: #"layout \d+ \d+ \d+"#, options: .regularExpression).map { String(dumped.output[$0]) }, "\(dumped.standardError)")
        let numbers = title.split(separator: " ").dropFirst().compactMap { Int($0) }
        try #require(numbers.count == 3)
        #expect(numbers[0] <= numbers[1], "the page scrolls sideways at 1280 px: \(title)")
        #expect(numbers[2] == 0, "\(numbers[2]) cells overflow their column")
        let shot = try Subprocess.run(
            chromium,
            root + [
                "--headless", "--disable-gpu", "--window-size=1280,1400", "--user-data-dir=" + server.directory.file("chromium-profile"),
                "--screenshot=" + server.directory.file("report.png"), URL(fileURLWithPath: server.directory.file("report.html")).absoluteString,
            ])
        #expect(shot.status == 0 && FileManager.default.fileExists(atPath: server.directory.file("report.png")))
        if let keep = ProcessInfo.processInfo.environment["SEALDROP_KEEP_REPORT"] {
            for name in ["report.html", "report.pdf", "report.png"] {
                try? FileManager.default.removeItem(atPath: keep + "/" + name)
                try? FileManager.default.copyItem(atPath: server.directory.file(name), toPath: keep + "/" + name)
            }
        }

        // The PDF: A4 landscape pages, as few as the content needs.
        let info = try Subprocess.run("/usr/bin/pdfinfo", [server.directory.file("report.pdf")])
        #expect(info.status == 0, "\(info.standardError)")
        let pages = info.output.split(separator: "\n").first { $0.hasPrefix("Pages:") }.flatMap { Int($0.split(separator: " ").last ?? "") }
        // One transfer with its timeline unfolded, the refusals and the
        // glossary: two or three pages by where the fonts break them, never
        // one (nothing dropped) nor more (no row or table blown over pages).
        #expect(pages.map { (2...3).contains($0) } == true, "\(info.output)")
        let size = try #require(info.output.split(separator: "\n").first { $0.hasPrefix("Page size:") })
        let points = size.split(separator: " ").compactMap { Double($0) }
        try #require(points.count == 2, "\(size)")
        #expect(abs(points[0] - 841.9) < 2 && abs(points[1] - 595.3) < 2, "A4 landscape (297 × 210 mm): \(size)")
    }

    @Test func withoutChromiumThePDFIsRefusedClearlyAndNothingIsVerifiedInVain() throws {
        let server = try ServerFixture()
        _ = try server.directory.write(Array("x".utf8), to: "empty.jsonl")
        let result = try Subprocess.run(
            Fixtures.sealdrop, ["audit", "report", "empty.jsonl", "--ca", "ca/trust/ca.pem", "--pdf", "r.pdf"],
            environment: ["PATH": "/nonexistent", "SEALDROP_TRUST": server.trust], directory: server.directory.path)
        #expect(result.status == 1)
        #expect(
            result.standardError
                == "sealdrop: error: cannot write a PDF: headless Chromium is not installed (looked for chromium, chromium-browser, google-chrome in PATH)\n"
                + "sealdrop: hint: install Debian's package (apt-get install chromium), or write --html and print it from any browser\n")
        #expect(!FileManager.default.fileExists(atPath: server.directory.file("r.pdf")))
    }
}
