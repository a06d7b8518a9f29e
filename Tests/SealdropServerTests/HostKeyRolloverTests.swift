import Foundation
import Testing
import TestSupport

/// A host-key rollover that breaks no pinned client: the operator prepares
/// the next key, vendors pin it beside the current one, the server switches,
/// and only clients that never pinned the new key are refused.
@Suite struct HostKeyRolloverTests {
    @Test func pinnedClientsFollowAnAnnouncedRollover() throws {
        let first = try ServerFixture()
        let directory = first.directory
        let old = first.hostKeyFingerprint
        let environment = ["XDG_CONFIG_HOME": directory.file("config")]
        func sealdrop(_ arguments: [String]) throws -> ProcessResult {
            try Subprocess.run(Fixtures.sealdrop, arguments, environment: environment, directory: directory.path)
        }
        func sealdropd(_ arguments: [String]) throws -> ProcessResult {
            try Subprocess.run(Fixtures.sealdropd, arguments + ["--data", first.data], directory: directory.path)
        }
        for profile in ["rolling", "stale"] {
            let made = try sealdrop([
                "init", "--profile", profile, "--server", "127.0.0.1:\(first.port)", "--host-key", old, "--name", "newvendor",
                "--identity", "newvendor", "--ca", "ca/trust/ca.pem",
            ])
            #expect(made.status == 0, "\(made.standardError)")
        }
        #expect(try sealdrop(["inbox", "--profile", "rolling"]).status == 0)

        // The operator prepares the next key while the server runs, and announces it.
        let prepared = try sealdropd(["host-key", "--prepare"])
        #expect(prepared.status == 0, "\(prepared.standardError)")
        let next = try #require(prepared.output.split(separator: "\n").first?.split(separator: " ").last.map(String.init))
        #expect(next != old && next.hasPrefix("SHA256:"))
        let added = try sealdrop(["init", "--profile", "rolling", "--add-host-key", next])
        #expect(added.status == 0, "\(added.standardError)")
        #expect(added.output == "profile rolling pins host key \(old) and \(next)\n")
        // Before the switch the old key still serves the profile that pins both.
        #expect(try sealdrop(["inbox", "--profile", "rolling"]).status == 0)

        first.stop()
        let activated = try sealdropd(["host-key", "--activate"])
        #expect(activated.status == 0, "\(activated.standardError)")
        let second = try ServerFixture(reusing: directory)
        defer { second.stop() }
        #expect(second.hostKeyFingerprint == next)
        let server = ["--server", "127.0.0.1:\(second.port)"]
        let rolled = try sealdrop(["inbox", "--profile", "rolling"] + server)
        #expect(rolled.status == 0, "\(rolled.standardError)")
        // A profile that never pinned the new key is refused, naming both.
        let stale = try sealdrop(["inbox", "--profile", "stale"] + server)
        #expect(stale.status != 0)
        #expect(stale.standardError.contains("presented host key \(next), not the pinned \(old)"), "\(stale.standardError)")

        // After the switch the old pin goes; the last pin never does.
        #expect(try sealdrop(["init", "--profile", "rolling", "--remove-host-key", old]).status == 0)
        #expect(try sealdrop(["inbox", "--profile", "rolling"] + server).status == 0)
        let last = try sealdrop(["init", "--profile", "rolling", "--remove-host-key", next])
        #expect(last.status != 0)
        #expect(last.standardError.contains("is the only host key"), "\(last.standardError)")
        let profile = try String(contentsOfFile: directory.file("config/sealdrop/rolling.conf"), encoding: .utf8)
        #expect(profile.contains("host-key = \(next)\n"), "\(profile)")
    }

    /// Bad pins are usage errors, and pins can only be edited in a profile that exists.
    @Test func pinEditsAreChecked() throws {
        let directory = try TemporaryDirectory()
        let environment = ["XDG_CONFIG_HOME": directory.file("config")]
        let missing = try Subprocess.run(
            Fixtures.sealdrop, ["init", "--add-host-key", "SHA256:" + String(repeating: "A", count: 43)], environment: environment,
            directory: directory.path)
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("there is no profile default"), "\(missing.standardError)")
        let malformed = try Subprocess.run(Fixtures.sealdrop, ["init", "--add-host-key", "SHA256:short"], environment: environment, directory: directory.path)
        #expect(malformed.status == 2, "\(malformed.standardError)")
        let mixed = try Subprocess.run(
            Fixtures.sealdrop, ["init", "--server", "x:1", "--add-host-key", "SHA256:" + String(repeating: "A", count: 43)], environment: environment,
            directory: directory.path)
        #expect(mixed.status == 2, "\(mixed.standardError)")
    }
}
