import Foundation
import Testing
import TestSupport

/// `sealdropd sweep`, the reaper pass for the mode behind sshd: abandoned
/// staging files go, an upload still being written stays.
@Suite struct SweepCommandTests {
    @Test func removesAbandonedUploadsOnly() throws {
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        let arguments = ["--data", directory.file("data"), "--trust", directory.file("ca/trust")]
        let first = try Subprocess.run(Fixtures.sealdropd, ["sweep"] + arguments, directory: directory.path)
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.output == "sweep: 0 transfers ended, 0 abandoned uploads removed\n")

        let staging = directory.file("data/staging")
        let abandoned = try directory.write(Array(repeating: 1, count: 100), to: "data/staging/abandoned.upload")
        let live = try directory.write(Array(repeating: 2, count: 100), to: "data/staging/live.upload")
        // Two hours untouched: past the default hour.
        var times = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil) - 7200, tv_usec: 0)]
        #expect(utimes(abandoned, &times) == 0)
        let second = try Subprocess.run(Fixtures.sealdropd, ["sweep"] + arguments, directory: directory.path)
        #expect(second.status == 0, "\(second.standardError)")
        #expect(second.output == "sweep: 0 transfers ended, 1 abandoned uploads removed\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: staging) == ["live.upload"])
        #expect(FileManager.default.fileExists(atPath: live))

        let bad = try Subprocess.run(Fixtures.sealdropd, ["sweep", "--staging-idle", "soon"] + arguments, directory: directory.path)
        #expect(bad.status == 64, "\(bad.standardError)")
    }
}
