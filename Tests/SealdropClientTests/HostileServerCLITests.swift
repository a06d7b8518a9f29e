import Foundation
import SealdropSFTP
import Testing
import TestSupport

/// The real `sealdrop` binary against the malicious server: exit statuses
/// as the README documents them, sanitised output, nothing written outside
/// the chosen folder, pinned files byte-identical.
@Suite struct HostileServerCLITests {
    /// Files the client may add beside its profile (never the profile itself).
    static let profileState: Set<String> = [
        "config/sealdrop/newvendor.revocation-list-number", "config/sealdrop/newvendor.revocation-list-number.lock",
        "config/sealdrop/newvendor.received", "config/sealdrop/newvendor.received.lock",
        "config/sealdrop/newvendor.tree-head.json", "config/sealdrop/newvendor.tree-head.json.lock",
    ]

    @Test func aHostileInboxListingIsRefusedAndNothingRawReachesTheTerminal() throws {
        let fixture = try HostileFixture()
        let pinned = fixture.pinnedFiles()
        let hex = String(repeating: "ab", count: 16)
        fixture.server.listings["/inbox"] = [MaliciousServer.entry("\u{1b}]0;owned\u{7}\(hex)\u{202E}.sealdrop")]
        for arguments in [["inbox"], ["inbox", "--json"]] {
            let listed = try fixture.sealdrop(arguments)
            #expect(listed.status == 6, "\(listed.standardError)")
            #expect(listed.standardError.contains("sealdrop: error: the drop box listed"), "\(listed.standardError)")
            #expect(listed.standardError.contains("\\u{202e}"))
            #expect(isTerminalSafe(listed.standardError) && isTerminalSafe(listed.output))
        }
        // A sender column with a bidi override is refused, not printed.
        fixture.server.listings["/inbox"] = [MaliciousServer.entry("\(hex).sealdrop", owner: "old\u{202E}vendor")]
        let refused = try fixture.sealdrop(["inbox", "--json"])
        #expect(refused.status == 6 && isTerminalSafe(refused.standardError))
        #expect(fixture.pinnedFiles() == pinned)
    }

    @Test func receiveAllWithATraversalNameWritesNothing() throws {
        let fixture = try HostileFixture()
        let pinned = fixture.pinnedFiles()
        try FileManager.default.createDirectory(atPath: fixture.directory.file("in"), withIntermediateDirectories: false)
        let (envelope, _) = try fixture.seal(Fixtures.bytes(1000))
        let evil = "../../../tmp/" + String(repeating: "cd", count: 16)
        fixture.offer(envelope, as: evil)
        let before = fixture.allFiles()
        let received = try fixture.sealdrop(["receive", "--all", "-o", "in"])
        #expect(received.status == 6, "\(received.standardError)")
        #expect(received.standardError.contains("not a transfer"), "\(received.standardError)")
        #expect(fixture.allFiles().subtracting(before).isSubset(of: Self.profileState))
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.directory.file("in")).isEmpty)
        #expect(fixture.pinnedFiles() == pinned)
    }

    @Test func theWrongEnvelopeIsRefusedWithStatusThreeAndKeptAsEvidence() throws {
        let fixture = try HostileFixture()
        let pinned = fixture.pinnedFiles()
        let (envelope, _) = try fixture.seal(Fixtures.bytes(70_000))
        let asked = String(repeating: "e1", count: 16)
        fixture.offer(envelope, as: asked)
        let before = fixture.allFiles()
        let received = try fixture.sealdrop(["receive", asked, "-o", "out"])
        #expect(received.status == 3, "\(received.standardError)")
        #expect(received.standardError.contains("the drop box served the wrong file for transfer \(asked)"), "\(received.standardError)")
        #expect(received.standardError.contains("nothing was written to out; the downloaded ciphertext is kept in .out.sealdrop-part"))
        #expect(fixture.allFiles().subtracting(before).subtracting(Self.profileState) == [".out.sealdrop-part"])
        #expect(fixture.read(".out.sealdrop-part") == envelope, "ciphertext only")
        #expect(fixture.pinnedFiles() == pinned)
    }

    @Test func aReplayedTransferIsRefusedByTheCommandLine() throws {
        let fixture = try HostileFixture()
        let plaintext = Fixtures.bytes(10_000, seed: 8)
        let (envelope, id) = try fixture.seal(plaintext)
        fixture.offer(envelope, as: id)
        let first = try fixture.sealdrop(["receive", id, "-o", "first"])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(fixture.read("first") == plaintext)
        // The drop box keeps serving it (a real one deleted it on delivery).
        let again = try fixture.sealdrop(["receive", id, "-o", "again"])
        #expect(again.status == 3, "\(again.standardError)")
        #expect(again.standardError.contains("received already"), "\(again.standardError)")
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("again")))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file(".again.sealdrop-part")))
    }

    @Test func receiveAllTakesAtMostMaxTransfersPerRun() throws {
        let fixture = try HostileFixture()
        try FileManager.default.createDirectory(atPath: fixture.directory.file("in"), withIntermediateDirectories: false)
        for index in 0..<3 {
            let (envelope, id) = try fixture.seal(Fixtures.bytes(1000 + index), name: "file-\(index)")
            fixture.offer(envelope, as: id)
        }
        let received = try fixture.sealdrop(["receive", "--all", "-o", "in", "--max", "2"])
        #expect(received.status == 0, "\(received.standardError)")
        #expect(received.standardError.contains("3 transfers wait; receiving the first 2"), "\(received.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.directory.file("in")).count == 2)
    }

    @Test func aStalledDownloadEndsWithATimeout() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(3 << 20))
        fixture.offer(envelope, as: id)
        fixture.server.stallReadsFrom = 1 << 20
        let received = try fixture.sealdrop(["receive", id, "-o", "out"])
        #expect(received.status == 6, "\(received.standardError)")
        #expect(received.standardError.contains("sent nothing for 3 s"), "\(received.standardError)")
        #expect(received.standardError.contains("sealdrop: hint: try again later"))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("out")))
    }

    /// Peak memory of `sealdrop inbox` against an endless listing of long
    /// names, measured with GNU time: the listing is cut at its byte limit.
    @Test func memoryStaysBoundedAgainstAnEndlessListing() throws {
        let fixture = try HostileFixture()
        let time = try #require(Subprocess.which("time"), "GNU time (ops/lib/setup.sh installs it)")
        func peak() throws -> (ProcessResult, Int) {
            let report = fixture.directory.file("rss")
            let listed = try Subprocess.run(
                time, ["-f", "%M", "-o", report, Fixtures.sealdrop, "inbox", "--profile", "newvendor", "--timeout", "3"],
                environment: fixture.environment, directory: fixture.directory.path)
            // GNU time writes "Command exited with non-zero status 6" first, then the figure.
            let lines = String(decoding: fixture.read("rss"), as: UTF8.self).split(separator: "\n")
            return (listed, lines.last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? .max)
        }
        let (empty, baseline) = try peak()
        #expect(empty.status == 0, "\(empty.standardError)")
        let long = String(repeating: "n", count: 1000)
        fixture.server.endless["/inbox"] = { _ in MaliciousServer.entry(long) }
        let (listed, kilobytes) = try peak()
        #expect(listed.status == 6, "\(listed.standardError)")
        #expect(listed.standardError.contains("passed 8388608 bytes"), "\(listed.standardError)")
        print("peak memory of sealdrop inbox: \(baseline) KiB for an empty inbox, \(kilobytes) KiB against an endless listing")
        #expect(kilobytes < baseline + 64 * 1024, "peak \(kilobytes) KiB")
    }
}
