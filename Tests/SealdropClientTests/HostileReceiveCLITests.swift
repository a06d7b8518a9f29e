import Foundation
import SealdropSFTP
import Testing
import TestSupport

/// `sealdrop receive` against a drop box that lies about sizes, and into
/// folders others could tamper with: exit statuses and messages as the
/// README documents them, nothing downloaded, nothing left behind.
@Suite struct HostileReceiveCLITests {
    @Test func aClaimedSizeOverMaxSizeIsRefusedBeforeDownloading() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(10_000, seed: 11))
        fixture.offer(envelope, as: id)
        fixture.server.stats["/inbox/\(id).sealdrop"] = SFTPAttributes(size: .max)
        let before = fixture.allFiles()
        let huge = try fixture.sealdrop(["receive", id, "-o", "out"])
        #expect(huge.status == 6, "\(huge.standardError)")
        #expect(
            huge.standardError.contains(
                "sealdrop: error: the drop box says transfer \(id) is 18446744073709551615 bytes, more than the 68719476736 allowed; nothing was downloaded"),
            "\(huge.standardError)")
        #expect(huge.standardError.contains("sealdrop: hint: if you expect a transfer that large, pass a larger --max-size (now 64G)"))
        #expect(fixture.allFiles().subtracting(before).isSubset(of: HostileServerCLITests.profileState))
        #expect(!fixture.server.openedPaths.contains("/inbox/\(id).sealdrop"), "never opened, so never claimed")

        fixture.server.stats = [:]
        let small = try fixture.sealdrop(["receive", id, "-o", "out", "--max-size", "64K"])
        #expect(small.status == 6, "\(small.standardError)")
        #expect(small.standardError.contains("(now 64K)"), "\(small.standardError)")
        let enough = try fixture.sealdrop(["receive", id, "-o", "out", "--max-size", "1M"])
        #expect(enough.status == 0, "\(enough.standardError)")
        #expect(fixture.read("out") == Fixtures.bytes(10_000, seed: 11))

        for bad in ["0", "12Q", "-5", "99999999999T", "1.5G"] {
            let refused = try fixture.sealdrop(["receive", id, "-o", "other", "--max-size", bad])
            #expect(refused.status == 2, "\(bad): \(refused.standardError)")
        }
    }

    /// Peak memory of `sealdrop receive` against a drop box that withholds
    /// the first block of a 512 MiB transfer and answers every other READ at
    /// once (GNU time): the client waits for that block, and times out,
    /// holding at most its 2 MiB window.
    @Test func memoryStaysBoundedAgainstAWithheldBlock() throws {
        let fixture = try HostileFixture()
        let time = try #require(Subprocess.which("time"), "GNU time (ops/lib/setup.sh installs it)")
        let id = String(repeating: "4d", count: 16)
        fixture.server.files["/inbox/\(id).sealdrop"] = []
        fixture.server.stats["/inbox/\(id).sealdrop"] = SFTPAttributes(size: 512 << 20)
        let block = [UInt8](repeating: 0x42, count: 64 << 10)
        let reads = RequestCounter()
        fixture.server.override = { message in
            guard case .read(let request, let handle, let offset, let length) = message, handle.starts(with: Array("f/inbox/".utf8)) else { return nil }
            reads.bump()
            return offset == 0 ? .reply([]) : .reply([.data(id: request, data: Array(block.prefix(Int(length))))])
        }
        let report = fixture.directory.file("rss")
        let received = try Subprocess.run(
            time, ["-f", "%M", "-o", report, Fixtures.sealdrop, "receive", id, "-o", "out", "--profile", "newvendor", "--timeout", "3"],
            environment: fixture.environment, directory: fixture.directory.path)
        let lines = String(decoding: fixture.read("rss"), as: UTF8.self).split(separator: "\n")
        let kilobytes = lines.last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? .max
        #expect(received.status == 6, "\(received.standardError)")
        #expect(received.standardError.contains("sent nothing for 3 s"), "\(received.standardError)")
        print("peak memory of sealdrop receive against a withheld first block of 512 MiB: \(kilobytes) KiB (\(reads.count) READs asked)")
        #expect(kilobytes < 96 * 1024, "peak \(kilobytes) KiB")
        #expect(fixture.read(".out.sealdrop-part").isEmpty)
    }

    @Test func aFolderOthersMayWriteToIsRefused() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(10_000, seed: 12))
        fixture.offer(envelope, as: id)
        try FileManager.default.createDirectory(atPath: fixture.directory.file("shared"), withIntermediateDirectories: false)
        #expect(chmod(fixture.directory.file("shared"), 0o777) == 0)
        let received = try fixture.sealdrop(["receive", id, "-o", "shared/out"])
        #expect(received.status == 1, "\(received.standardError)")
        #expect(
            received.standardError.contains(
                "sealdrop: error: shared is not safe to receive into: others may write to it (mode 777, no sticky bit), so someone could swap the files in it; choose a private folder"
            ), "\(received.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.directory.file("shared")).isEmpty)
        #expect(!fixture.server.openedPaths.contains("/inbox/\(id).sealdrop"))
    }
}
