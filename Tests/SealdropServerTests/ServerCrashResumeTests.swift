import Foundation
import Testing
import TestSupport

/// The drop box killed while `sealdrop receive` downloads: after the
/// restart and the lease, the same command resumes from its part file,
/// the transfer is delivered once and its blob deleted, and nothing more
/// can be had.
@Suite(.serialized) struct ServerCrashResumeTests {
    @Test func aServerKilledMidReceiveIsResumedByTheSameCommandAndDeliversOnce() throws {
        let settings = ["claim-lease = 2s"]
        let server = try ServerFixture(settings: settings)
        var environment = try ClientIntegrationTests.profiles(server)
        let plaintext = Fixtures.bytes(96 * 1024 * 1024, seed: 21)
        _ = try server.directory.write(plaintext, to: "big")
        let sent = try ClientIntegrationTests.run(server, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor", "--quiet"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let id = try #require(try ClientIntegrationTests.inboxIDs(server, environment).first)

        let (process, partial) = try ClientIntegrationTests.startReceive(server, environment, id, output: "big.out", waiting: 60)
        let killedAt = Date()
        server.crash()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0, "the receive must fail when the drop box dies under it")
        #expect(partial > 0 && partial < UInt64(plaintext.count), "the server was killed mid-download (at \(partial) bytes)")
        #expect(!FileManager.default.fileExists(atPath: server.directory.file("big.out")))

        let restarted = try ServerFixture(settings: settings, reusing: server.directory)
        environment["SEALDROP_SERVER"] = "127.0.0.1:\(restarted.port)"
        Thread.sleep(forTimeInterval: max(0, 2.5 - Date().timeIntervalSince(killedAt)))
        let resumed = try ClientIntegrationTests.run(restarted, environment, ["receive", id, "-o", "big.out", "--profile", "newvendor"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardError.contains("resuming at byte"))
        #expect(try restarted.directory.read("big.out") == plaintext)
        #expect(restarted.entries("blobs").isEmpty, "the blob is deleted at delivery")

        // Delivered means gone: neither the command nor plain sftp gets it again.
        let again = try ClientIntegrationTests.run(restarted, environment, ["receive", id, "-o", "again.out", "--profile", "newvendor"])
        #expect(again.status != 0)
        #expect(try restarted.sftp("newvendor", ["get /inbox/\(id).sealdrop again.sealdrop"]).status != 0)
        let status = try ClientIntegrationTests.run(restarted, environment, ["status", "--profile", "oldvendor"])
        #expect(status.output.contains("\(id)  delivered"), "\(status.output)")
    }
}
