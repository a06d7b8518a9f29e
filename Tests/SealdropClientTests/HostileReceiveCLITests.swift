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
