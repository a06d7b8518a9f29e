import Foundation
import Testing
import TestSupport

/// The network fails in the middle of a transfer (a relay on loopback that
/// resets the connection after so many bytes): a cut send publishes
/// nothing, a cut receive resumes where it stopped.
@Suite struct NetworkFaultTests {
    /// A profile for `vendor` that reaches the server through `port`.
    static func profile(_ server: ServerFixture, _ environment: [String: String], vendor: String, port: Int, name: String) throws {
        let made = try Subprocess.run(
            Fixtures.sealdrop,
            [
                "init", "--server", "127.0.0.1:\(port)", "--name", vendor, "--identity", vendor, "--ca", "ca/trust/ca.pem",
                "--host-key", server.hostKeyFingerprint, "--profile", name,
            ],
            environment: environment, directory: server.directory.path)
        guard made.status == 0 else { throw FixtureError.setup(made.standardError) }
    }

    /// Waits up to `seconds` for `condition`.
    static func eventually(_ seconds: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }

    @Test func aSendCutMidwayPublishesNothing() throws {
        let server = try ServerFixture()
        let environment = try ClientIntegrationTests.profiles(server)
        let relay = try CuttingRelay(to: server.port, cutAfter: 3 << 20, .toServer)
        try Self.profile(server, environment, vendor: "oldvendor", port: relay.port, name: "oldvendor-cut")
        let plaintext = Fixtures.bytes(8 << 20, seed: 21)
        _ = try server.directory.write(plaintext, to: "big")

        let cut = try ClientIntegrationTests.run(server, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor-cut"])
        #expect(cut.status != 0, "the send failed")
        #expect(relay.cutCount == 1, "the connection was cut once")
        #expect(!cut.standardError.isEmpty, "and said why")
        print("a send cut after 3 MiB: \(cut.standardError.split(separator: "\n").last ?? "")")
        #expect(Self.eventually(10) { server.entries("staging").isEmpty }, "the half upload is removed once the server sees the cut")
        #expect(server.entries("blobs").isEmpty, "nothing was published")
        #expect(try ClientIntegrationTests.inboxIDs(server, environment).isEmpty)

        // Sent again directly: one transfer, whole.
        let sent = try ClientIntegrationTests.run(server, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let ids = try ClientIntegrationTests.inboxIDs(server, environment)
        #expect(ids.count == 1)
        let id = try #require(ids.first)
        let received = try ClientIntegrationTests.run(server, environment, ["receive", id, "-o", "big.out", "--profile", "newvendor"])
        #expect(received.status == 0, "\(received.standardError)")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: server.directory.file("big.out")))) == plaintext)
    }

    @Test func aReceiveCutMidwayResumesWhereItStopped() throws {
        let server = try ServerFixture()
        let environment = try ClientIntegrationTests.profiles(server)
        let plaintext = Fixtures.bytes(8 << 20, seed: 22)
        _ = try server.directory.write(plaintext, to: "big")
        #expect(try ClientIntegrationTests.run(server, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
        let id = try #require(try ClientIntegrationTests.inboxIDs(server, environment).first)
        let relay = try CuttingRelay(to: server.port, cutAfter: 3 << 20, .toClient)
        try Self.profile(server, environment, vendor: "newvendor", port: relay.port, name: "newvendor-cut")

        let cut = try ClientIntegrationTests.run(server, environment, ["receive", id, "-o", "big.out", "--profile", "newvendor-cut"])
        #expect(cut.status != 0, "the receive failed")
        #expect(relay.cutCount == 1)
        print("a receive cut after 3 MiB: \(cut.standardError.split(separator: "\n").last ?? "")")
        #expect(!FileManager.default.fileExists(atPath: server.directory.file("big.out")), "nothing under the output name")
        let part = server.directory.file(".big.out.sealdrop-part")
        let kept = ((try? FileManager.default.attributesOfItem(atPath: part))?[.size] as? NSNumber)?.intValue ?? 0
        #expect(kept > 1 << 20 && kept < 3 << 20, "the part file keeps what arrived: \(kept) bytes")
        #expect(try ClientIntegrationTests.inboxIDs(server, environment) == [id], "not delivered: still waiting")

        // Once the server has seen the cut and released the claim, the same command resumes.
        var resumed: ProcessResult?
        _ = try Self.eventually(15) {
            resumed = try ClientIntegrationTests.run(server, environment, ["receive", id, "-o", "big.out", "--profile", "newvendor"])
            return resumed?.status == 0
        }
        let result = try #require(resumed)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("resuming at byte \(kept)"), "\(result.standardError)")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: server.directory.file("big.out")))) == plaintext)
        #expect(!FileManager.default.fileExists(atPath: part), "the part file is removed on success")
        #expect(try ClientIntegrationTests.inboxIDs(server, environment).isEmpty, "delivered once")
    }
}
