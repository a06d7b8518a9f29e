import Foundation
import Testing
import TestSupport

/// A real server whose data directory is a small tmpfs it fills up.
@Suite struct DiskFullTests {
    /// The tests run as root in CI; elsewhere a tmpfs cannot be mounted and the test says so.
    static let canMount: Bool = {
        guard let directory = try? TemporaryDirectory() else { return false }
        let point = directory.file("probe")
        guard mkdir(point, 0o700) == 0, (try? Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", point]))?.status == 0 else {
            return false
        }
        _ = try? Subprocess.run("/bin/umount", [point])
        return true
    }()

    @Test(.enabled(if: canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN); run the tests as root"))
    func aFullDiskSaysSoRemovesTheUploadAndOthersGoOn() throws {
        let directory = try TemporaryDirectory()
        let made = try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop])
        guard made.status == 0 else { throw FixtureError.setup(made.standardError) }
        let data = directory.file("data")
        #expect(mkdir(data, 0o700) == 0)
        let mounted = try Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", data])
        guard mounted.status == 0 else { throw FixtureError.setup("cannot mount a tmpfs: \(mounted.standardError)") }
        defer { _ = try? Subprocess.run("/bin/umount", ["-l", data]) }

        let server = try ServerFixture(reusing: directory)
        defer { server.stop() }
        let environment = try ClientIntegrationTests.profiles(server)
        _ = try directory.write(Fixtures.bytes(12 << 20, seed: 8), to: "big")
        _ = try directory.write(Fixtures.bytes(200_000, seed: 9), to: "small")

        let full = try ClientIntegrationTests.run(server, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor"])
        #expect(full.status != 0)
        #expect(full.standardError.contains("the drop box is out of space"), "\(full.standardError)")
        #expect(!full.standardError.contains("truncated or padded"))
        #expect(server.entries("staging").isEmpty, "the staged upload is removed at once")

        // The space is back: another vendor and the same one carry on.
        let listed = try server.sftp("newvendor", ["ls /inbox"])
        #expect(listed.status == 0, "\(listed.standardError)")
        let sent = try ClientIntegrationTests.run(server, environment, ["send", "small", "--to", "newvendor", "--profile", "oldvendor"])
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(try ClientIntegrationTests.inboxIDs(server, environment).count == 1)
        #expect(server.log().contains("out of space"))
    }
}
