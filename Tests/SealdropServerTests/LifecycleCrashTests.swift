import Foundation
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropStore
import SealdropTrust
import Testing
import TestSupport

/// A real `sealdropd` killed (SIGKILL, `CrashPoint`) between every pair of
/// steps of a transfer's end — delivery, revocation, expiry, rejection —
/// then restarted on the same data: after its start-up sweep no blob or
/// staging file is left that no live transfer needs, the transfer is in the
/// state its committed steps say, and the exported log passes `audit
/// verify` (no transfer "ended but never deleted", none deleted twice).
@Suite(.serialized) struct LifecycleCrashTests {
    static let settings = ["reaper-interval = 1s"]

    /// An envelope from oldvendor to newvendor that expires `seconds` from now.
    static func shortLivedEnvelope(_ server: ServerFixture, seconds: TimeInterval) throws -> String {
        let trust = try TrustStore.load(directory: server.trust)
        let me = try trust.party(named: try VendorName("oldvendor"), for: .sender)
        let them = try trust.party(named: try VendorName("newvendor"), for: .recipient)
        let key = try VendorIdentity.load(path: server.directory.file("oldvendor"), passphrase: .none)
        var source = MemorySource(Fixtures.bytes(5000))
        var sink = MemorySink()
        _ = try EnvelopeSealer.seal(
            from: &source, to: &sink, sender: key,
            request: SealRequest(
                recipient: them.key,
                parties: EnvelopeParties(senderCertificate: me.certificate.fingerprint, recipientCertificate: them.certificate.fingerprint),
                description: try FileDescription(fileName: "x"), expires: Date().addingTimeInterval(seconds)))
        return try server.directory.write(sink.bytes, to: "short.sealdrop")
    }

    static func waitForDeath(_ server: ServerFixture, within seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while server.process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        return !server.process.isRunning
    }

    static func events(_ server: ServerFixture, _ id: String?) throws -> [TransferEvent.Kind] {
        try SQLiteTransferStore(path: server.data + "/metadata.sqlite").events().filter { id == nil || $0.transferID == id }.map(\.kind)
    }

    @Test(arguments: CrashPoint.allCases)
    func aCrashAtEveryStepLosesNothingAndLeavesNothing(_ step: CrashPoint) throws {
        let server = try ServerFixture(settings: Self.settings, environment: [CrashPoint.environmentVariable: step.rawValue])
        let certified = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server",
        ])
        try #require(certified.status == 0, "\(certified.standardError)")
        let phase = step.rawValue.split(separator: ".").first.map(String.init) ?? ""
        var id: String?
        switch phase {
        case "deliver":
            id = try LifecycleIntegrationTests().sendOne(server).id
            _ = try server.sftp("newvendor", ["get /inbox/\(id!).sealdrop got.sealdrop"])
        case "revoke":
            id = try LifecycleIntegrationTests().sendOne(server).id
            _ = try server.sftp("oldvendor", ["rm /sent/\(id!).sealdrop"])
        case "expire":
            let envelope = try Self.shortLivedEnvelope(server, seconds: 6)
            let put = try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"])
            try #require(put.status == 0, "\(put.standardError)")
            id = try SQLiteTransferStore(path: server.data + "/metadata.sqlite").events().last { $0.kind == .uploadPublished }?.transferID
            try #require(id != nil, "the short-lived upload was published")
        default:
            _ = try server.directory.write(Array("patient;hiv-status\n1;negative\n".utf8), to: "plain.csv")
            _ = try server.sftp("oldvendor", ["put plain.csv /outbox/newvendor/"])
        }
        #expect(Self.waitForDeath(server, within: 30), "\(step.rawValue) was never reached")
        #expect(server.process.terminationReason == .uncaughtSignal && server.process.terminationStatus == SIGKILL, "killed at \(step.rawValue)")

        let restarted = try ServerFixture(settings: Self.settings, reusing: server.directory)
        let kinds = try Self.events(restarted, id)
        switch step {
        case .revokeInTransaction:
            // Rolled back: still available, its blob rightly kept; revoking again works.
            #expect(!kinds.contains(.revoked) && !kinds.contains(.deleted), "\(kinds)")
            #expect(restarted.entries("blobs").count == 1)
            #expect(try restarted.sftp("oldvendor", ["rm /sent/\(id!).sealdrop"]).status == 0)
        case .deliverInTransaction:
            // The CLOSE that would deliver rolled back: its handle counts
            // nothing (ranges count at CLOSE), so the transfer is served again
            // and the next CLOSE delivers it, once.
            #expect(!kinds.contains(.delivered) && !kinds.contains(.deleted), "\(kinds)")
            #expect(try restarted.sftp("newvendor", ["get /inbox/\(id!).sealdrop again.sealdrop"]).status == 0)
            let after = try Self.events(restarted, id)
            #expect(after.filter { $0 == .delivered }.count == 1 && after.filter { $0 == .deleted }.count == 1, "\(after)")
        case _ where phase == "deliver":
            // Every byte was served before the crash: delivered, whichever step it reached.
            #expect(kinds.filter { $0 == .delivered }.count == 1 && kinds.filter { $0 == .deleted }.count == 1, "\(kinds)")
            #expect(try restarted.sftp("newvendor", ["get /inbox/\(id!).sealdrop again.sealdrop"]).status != 0, "never served again")
        case _ where phase == "revoke":
            #expect(kinds.filter { $0 == .revoked }.count == 1 && kinds.filter { $0 == .deleted }.count == 1, "\(kinds)")
        case _ where phase == "expire":
            #expect(kinds.filter { $0 == .expired }.count == 1 && kinds.filter { $0 == .deleted }.count == 1, "\(kinds)")
        default:
            #expect(try Self.events(restarted, nil).contains(.uploadPublished) == false, "a rejected upload is never published")
        }
        #expect(restarted.entries("blobs").isEmpty, "no blob left after the start-up sweep")
        #expect(restarted.entries("staging").isEmpty, "no staging file left after the start-up sweep")

        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.jsonl", "--data", restarted.data, "--trust", restarted.trust],
            directory: restarted.directory.path)
        #expect(exported.status == 0, "\(exported.standardError)")
        let verified = try restarted.sealdrop(["audit", "verify", "log.jsonl", "--ca", "ca/trust/ca.pem"])
        #expect(verified.status == 0, "\(step.rawValue): \(verified.standardError)")
    }

    @Test func everyStepIsNamedOnceAndAnUnknownNameIsInert() {
        let names = CrashPoint.allCases.map(\.rawValue)
        #expect(Set(names).count == names.count)
        for phase in ["deliver", "revoke", "expire", "reject"] {
            #expect(names.contains { $0.hasPrefix(phase + ".") }, "\(phase) has steps")
        }
        #expect(CrashPoint(rawValue: "deliver.somewhere") == nil)
    }
}
