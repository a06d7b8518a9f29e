import Foundation
import SealdropFormat
import SealdropLog
import Testing
import TestSupport

/// A real `sealdropd` publishing its signed tree head, and vendors' real
/// `sealdrop` clients witnessing it: an honest server passes every time,
/// each vendor's saved head grows, and `audit verify` proves the exported
/// log extends every head a vendor saved.
@Suite struct WitnessIntegrationTests {
    @Test func vendorsWitnessAnHonestLogAndTheAuditChecksTheirHeads() throws {
        let server = try ServerFixture()
        let environment = try ClientIntegrationTests.profiles(server)
        let before = try ClientIntegrationTests.run(server, environment, ["inbox", "--profile", "newvendor"])
        #expect(before.status == 0, "\(before.standardError)")
        #expect(before.standardError.contains("publishes no signed tree head yet"), "\(before.standardError)")

        let certified = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server",
        ])
        #expect(certified.status == 0, "\(certified.standardError)")
        Thread.sleep(forTimeInterval: 2.5)  // the server looks at its trust files every 2 s
        _ = try server.directory.write(Fixtures.bytes(3000), to: "extract")
        let sent = try ClientIntegrationTests.run(server, environment, ["send", "extract", "--to", "newvendor", "--profile", "oldvendor"])
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(sent.standardError.contains("receipt log:") && sent.standardError.contains("first seen"), "\(sent.standardError)")
        for _ in 0..<2 {
            let listed = try ClientIntegrationTests.run(server, environment, ["inbox", "--profile", "newvendor"])
            #expect(listed.status == 0, "\(listed.standardError)")
            #expect(listed.standardError.contains("receipt log:"), "\(listed.standardError)")
        }
        let again = try ClientIntegrationTests.run(server, environment, ["status", "--profile", "oldvendor"])
        #expect(again.status == 0 && again.standardError.contains("extends the"), "\(again.standardError)")

        let heads = ["oldvendor", "newvendor"].map { server.directory.file("config/sealdrop/\($0).tree-head.json") }
        for head in heads {
            let saved = try JSONDecoder().decode(SignedTreeHead.self, from: Data(contentsOf: URL(fileURLWithPath: head)))
            #expect(saved.size > 0)
        }
        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.json", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
        #expect(exported.status == 0, "\(exported.standardError)")
        let verified = try server.sealdrop(["audit", "verify", "log.json", "--ca", "ca/trust/ca.pem"] + heads.flatMap { ["--witness-head", $0] })
        #expect(verified.status == 0, "\(verified.standardError)")
    }

    /// Until the receipt key is certified no head can be signed: `serve`
    /// says so at start with the command that fixes it, and stops saying
    /// so once the certificate is in place.
    @Test func serveReportsAnUncertifiedReceiptKey() throws {
        let server = try ServerFixture()
        let environment = try ClientIntegrationTests.profiles(server)
        _ = try server.directory.write(Fixtures.bytes(100), to: "extract")
        let sent = try ClientIntegrationTests.run(server, environment, ["send", "extract", "--to", "newvendor", "--profile", "oldvendor"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let id = try #require(try ClientIntegrationTests.inboxIDs(server, environment).first)
        let receipt = try ClientIntegrationTests.run(server, environment, ["receipt", id, "--profile", "oldvendor"])
        #expect(receipt.status != 0)
        #expect(receipt.standardError.contains("has not certified the receipt key"), "\(receipt.standardError)")
        let log = server.log()
        #expect(log.contains("has no valid server certificate"), "\(log)")
        #expect(log.contains("sealdrop ca issue --ca-dir CA-DIR --name receipts --role server --pubkey \(server.data)/receipt_ed25519_key.pub"), "\(log)")
        let certified = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server",
        ])
        #expect(certified.status == 0, "\(certified.standardError)")
        let again = try ServerFixture(reusing: server.directory)
        #expect(!again.log().contains("has no valid server certificate"))
    }
}
