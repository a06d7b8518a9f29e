import Foundation
import SealdropLog
import Testing
import TestSupport

/// The operator rotates a real `sealdropd`'s receipt key with `sealdropd
/// log rotate-key`: vendors' clients accept the first head under the new
/// certified key because it extends the head they saw (and say the key
/// changed), and `audit verify` checks heads saved under the old key
/// against the log signed with the new one.
@Suite struct ReceiptKeyRotationTests {
    static func rotate(_ server: ServerFixture) throws -> ProcessResult {
        try Subprocess.run(
            Fixtures.sealdropd, ["log", "rotate-key", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
    }

    @Test func anOperatorRotatesTheReceiptKeyAndVendorsAndTheAuditFollow() throws {
        let server = try ServerFixture()
        var environment = try ClientIntegrationTests.profiles(server)
        let certified = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server",
        ])
        try #require(certified.status == 0, "\(certified.standardError)")
        Thread.sleep(forTimeInterval: 2.5)  // the server looks at its trust files every 2 s
        _ = try server.directory.write(Fixtures.bytes(3000), to: "extract")
        let sent = try ClientIntegrationTests.run(server, environment, ["send", "extract", "--to", "newvendor", "--profile", "oldvendor"])
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(try ClientIntegrationTests.run(server, environment, ["inbox", "--profile", "newvendor"]).status == 0)
        let headFile = server.directory.file("config/sealdrop/newvendor.tree-head.json")
        try FileManager.default.copyItem(atPath: headFile, toPath: server.directory.file("head-before.json"))

        // Step 1 makes the next key; step 2 refuses until the CA certified it.
        let made = try Self.rotate(server)
        #expect(made.status == 0 && made.output.contains("made the next receipt key"), "\(made.output)\(made.standardError)")
        let early = try Self.rotate(server)
        #expect(early.status != 0)
        #expect(early.standardError.contains("has no valid server certificate"), "\(early.standardError)")
        let next = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts-2", "--pubkey", "data/receipt_ed25519_key.next.pub", "--role", "server",
        ])
        try #require(next.status == 0, "\(next.standardError)")
        let rotated = try Self.rotate(server)
        #expect(rotated.status == 0 && rotated.output.contains("the receipt key is now"), "\(rotated.output)\(rotated.standardError)")
        #expect(!FileManager.default.fileExists(atPath: server.data + "/receipt_ed25519_key.next"))

        server.stop()
        let restarted = try ServerFixture(reusing: server.directory)
        environment["SEALDROP_SERVER"] = "127.0.0.1:\(restarted.port)"
        for vendor in ["newvendor", "oldvendor"] {
            let listed = try ClientIntegrationTests.run(restarted, environment, ["status", "--profile", vendor])
            #expect(listed.status == 0, "\(listed.standardError)")
            #expect(listed.standardError.contains("the drop box's receipt key changed"), "\(vendor): \(listed.standardError)")
            let again = try ClientIntegrationTests.run(restarted, environment, ["status", "--profile", vendor])
            #expect(again.status == 0 && !again.standardError.contains("receipt key changed"), "said once: \(again.standardError)")
        }

        // The audit checks the head from before the rotation against the log signed after it.
        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.jsonl", "--data", restarted.data, "--trust", restarted.trust],
            directory: restarted.directory.path)
        #expect(exported.status == 0, "\(exported.standardError)")
        let audited = try restarted.sealdrop([
            "audit", "verify", "log.jsonl", "--ca", "ca/trust/ca.pem", "--since-head", "head-before.json", "--witness-head", headFile,
        ])
        #expect(audited.status == 0, "\(audited.standardError)")
        // Without the old certificate, nothing ties the old head to the CA.
        let stripped = try ReceiptLogTests.edit(restarted.directory.file("log.jsonl")) { $0.header.previousServerCertificates = nil }
        let refused = try restarted.sealdrop(["audit", "verify", stripped, "--ca", "ca/trust/ca.pem", "--since-head", "head-before.json"])
        #expect(refused.status == 3)
        #expect(refused.standardError.contains("nor by an earlier receipt key the CA certified"), "\(refused.standardError)")
    }
}
