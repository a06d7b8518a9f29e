import Foundation
import SealdropFormat
import SealdropKeys
import SealdropLog
import SealdropTrust
import Testing
import TestSupport

/// `sealdrop send/inbox/receive` against a real `sealdropd` on loopback.
@Suite struct ClientIntegrationTests {
    /// A profile per vendor, written by `sealdrop init`, in the fixture's own config folder.
    static func profiles(_ server: ServerFixture) throws -> [String: String] {
        var environment = ["XDG_CONFIG_HOME": server.directory.file("config")]
        for vendor in ["oldvendor", "newvendor", "stranger"] {
            let made = try Subprocess.run(
                Fixtures.sealdrop,
                [
                    "init", "--server", "127.0.0.1:\(server.port)", "--name", vendor, "--identity", vendor, "--ca", "ca/trust/ca.pem",
                    "--host-key", server.hostKeyFingerprint, "--profile", vendor,
                ],
                environment: environment, directory: server.directory.path)
            guard made.status == 0 else { throw FixtureError.setup(made.standardError) }
        }
        environment["SEALDROP_TRUST"] = "/nonexistent"  // the client must not need a local trust store
        return environment
    }

    /// Starts `sealdrop receive ID -o OUTPUT` as newvendor and returns once
    /// its part file holds more than 8 MiB (or the command ended, or
    /// `waiting` seconds passed), with the bytes the part file held then.
    static func startReceive(
        _ server: ServerFixture, _ environment: [String: String], _ id: String, output: String, waiting: TimeInterval
    ) throws -> (Process, UInt64) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixtures.sealdrop)
        process.arguments = ["receive", id, "-o", output, "--profile", "newvendor", "--quiet"]
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: server.directory.path)
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let part = server.directory.file(".\(output).sealdrop-part")
        let deadline = Date().addingTimeInterval(waiting)
        var partial: UInt64 = 0
        while Date() < deadline, process.isRunning {
            partial = ((try? FileManager.default.attributesOfItem(atPath: part))?[.size] as? NSNumber)?.uint64Value ?? 0
            if partial > 8 << 20 { break }
            usleep(5_000)
        }
        return (process, partial)
    }

    static func run(_ server: ServerFixture, _ environment: [String: String], _ arguments: [String], input: [UInt8]? = nil) throws -> ProcessResult {
        try Subprocess.run(Fixtures.sealdrop, arguments, input: input, environment: environment, directory: server.directory.path)
    }

    static func inboxIDs(_ server: ServerFixture, _ environment: [String: String], as vendor: String = "newvendor") throws -> [String] {
        let listed = try run(server, environment, ["inbox", "--json", "--profile", vendor])
        return listed.output.split(separator: "\n").filter { $0.contains("\"id\"") }.map { line in
            String(line.split(separator: "\"")[3])
        }
    }

    @Test func sendAndReceiveAtEverySize() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        for size in [0, 1, 3 * 65_524 + 5, 100 * 1024 * 1024 + 7] {
            let plaintext = Fixtures.bytes(size, seed: UInt64(size) + 5)
            _ = try server.directory.write(plaintext, to: "in-\(size)")
            let sent = try Self.run(server, environment, ["send", "in-\(size)", "--to", "newvendor", "--profile", "oldvendor", "--note", "n"])
            #expect(sent.status == 0, "\(sent.standardError)")
            #expect(sent.output.contains("server:      published transfer"))
            let ids = try Self.inboxIDs(server, environment)
            #expect(ids.count == 1)
            let id = try #require(ids.first)
            let received = try Self.run(server, environment, ["receive", id, "-o", "out-\(size)", "--profile", "newvendor"])
            #expect(received.status == 0, "\(received.standardError)")
            #expect(received.output.contains("received from oldvendor (verified)"))
            #expect(try server.directory.read("out-\(size)") == plaintext, "size \(size)")
            #expect(try Self.inboxIDs(server, environment).isEmpty)
            #expect(server.entries("blobs").isEmpty)
        }
        #expect(try server.directory.entries().allSatisfy { !$0.hasSuffix("sealdrop-part") }, "part files are removed")
    }

    @Test func inboxShowsSenderSizeAndExpiry() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        _ = try server.directory.write([1, 2, 3], to: "x")
        let sent = try Self.run(server, environment, ["send", "x", "--to", "newvendor", "--expires", "2h", "--profile", "oldvendor"])
        #expect(sent.output.contains("sha256:"))
        let table = try Self.run(server, environment, ["inbox", "--profile", "newvendor"])
        #expect(table.output.contains("SENDER"))
        #expect(table.output.contains("EXPIRES"))
        #expect(table.output.contains("oldvendor"))
        let json = try Self.run(server, environment, ["inbox", "--json", "--profile", "newvendor"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]]
        let row = try #require(rows?.first)
        let expires = try #require(ISO8601DateFormatter().date(from: row["expires"] as? String ?? ""))
        #expect(abs(expires.timeIntervalSinceNow - 7200) < 120)
        #expect(row["sender"] as? String == "oldvendor")
        // Numbers are JSON numbers, times RFC 3339 (the schema in README.md).
        #expect((row["size"] as? NSNumber)?.uint64Value == UInt64(346 + 2 * 65_553 + 152) && !(row["size"] is String))
        #expect(ISO8601DateFormatter().date(from: row["uploaded"] as? String ?? "") != nil)
    }

    @Test func statusShowsEachTransfersCheckedState() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        _ = try server.directory.write([1, 2, 3], to: "x")
        #expect(try Self.run(server, environment, ["send", "x", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
        func states() throws -> [String] {
            let listed = try Self.run(server, environment, ["status", "--json", "--profile", "oldvendor"])
            #expect(listed.status == 0, "\(listed.standardError)")
            let rows = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]] ?? []
            return rows.compactMap { $0["state"] as? String }
        }
        #expect(try states() == ["available"])
        let id = try #require(try Self.inboxIDs(server, environment).first)
        #expect(try Self.run(server, environment, ["receive", id, "-o", "x.out", "--profile", "newvendor"]).status == 0)
        #expect(try states() == ["delivered"])
        let revoked = try Self.run(server, environment, ["revoke", id, "--profile", "oldvendor"])
        #expect(revoked.status == 6, "a delivered transfer cannot be revoked")
        #expect(isPlainText(revoked.standardError), "\(revoked.standardError)")
    }

    /// No control or bidirectional-format character reached the terminal.
    func isPlainText(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0 == "\n" || ($0.value >= 0x20 && $0.properties.generalCategory != .format && !(0x7f...0x9f).contains($0.value)) }
    }

    @Test func receiveAllNamesFilesSafely() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        try FileManager.default.createDirectory(atPath: server.directory.file("inbox"), withIntermediateDirectories: false)
        _ = try server.directory.write(Array("already here".utf8), to: "inbox/report.csv")
        _ = try server.directory.write(Fixtures.bytes(1000, seed: 1), to: "a")
        _ = try server.directory.write(Fixtures.bytes(2000, seed: 2), to: "b")
        #expect(try Self.run(server, environment, ["send", "a", "--name", "report.csv", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
        #expect(try Self.run(server, environment, ["send", "b", "--name", "patients.sql", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
        let received = try Self.run(server, environment, ["receive", "--all", "-o", "inbox", "--profile", "newvendor"])
        #expect(received.status == 0, "\(received.standardError)")
        let names = try FileManager.default.contentsOfDirectory(atPath: server.directory.file("inbox")).sorted()
        #expect(names.count == 3)
        #expect(try server.directory.read("inbox/report.csv") == Array("already here".utf8), "never overwritten")
        #expect(try server.directory.read("inbox/patients.sql") == Fixtures.bytes(2000, seed: 2))
        let renamed = try #require(names.first { $0.hasSuffix("-report.csv") })
        #expect(try server.directory.read("inbox/" + renamed) == Fixtures.bytes(1000, seed: 1))
        #expect(try Self.inboxIDs(server, environment).isEmpty)
    }

    @Test func senderAndRecipientGetVerifiedReceiptsAndNobodyElseDoes() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        let certified = try server.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server",
        ])
        #expect(certified.status == 0, "\(certified.standardError)")
        _ = try server.directory.write([1, 2, 3], to: "x")
        #expect(try Self.run(server, environment, ["send", "x", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
        let id = try #require(try Self.inboxIDs(server, environment).first)
        #expect(try Self.run(server, environment, ["receive", id, "-o", "x.out", "--profile", "newvendor"]).status == 0)
        for vendor in ["oldvendor", "newvendor"] {
            let receipt = try Self.run(server, environment, ["receipt", id, "--profile", vendor, "-o", "receipt-\(vendor).json"])
            #expect(receipt.status == 0, "\(vendor): \(receipt.standardError)")
            #expect(receipt.output.contains("signed by receipts"))
            for kind in ["upload-published by oldvendor", "claimed by newvendor", "delivered by newvendor", "deleted"] {
                #expect(receipt.output.contains(kind), "\(vendor) receipt lacks \(kind)")
            }
        }
        let stranger = try Self.run(server, environment, ["receipt", id, "--profile", "stranger"])
        #expect(stranger.status == 6)
    }

    @Test func receiveSendsASignedAcknowledgmentThatAuditChecks() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        #expect(
            try server.sealdrop(["ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server"]).status
                == 0)
        _ = try server.directory.write(Fixtures.bytes(70_000), to: "x")
        #expect(try Self.run(server, environment, ["send", "x", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
        let id = try #require(try Self.inboxIDs(server, environment).first)
        let received = try Self.run(server, environment, ["receive", id, "-o", "x.out", "--profile", "newvendor"])
        #expect(received.standardError.contains("acknowledged"), "\(received.standardError)")
        let receipt = try Self.run(server, environment, ["receipt", id, "--profile", "oldvendor"])
        #expect(receipt.output.contains("acknowledged by newvendor"), "\(receipt.output)")

        // An acknowledgment signed with another vendor's key is refused by the drop box.
        let stranger = try VendorIdentity.load(path: server.directory.file("stranger"), passphrase: .none)
        let forged = Acknowledgment.sign(
            transfer: id, ciphertextSHA256: [UInt8](repeating: 1, count: 32),
            plaintextSHA256: [UInt8](repeating: 2, count: 32), at: Date(), with: stranger.signingKey)
        _ = try server.directory.write([UInt8](try JSONEncoder().encode(forged)), to: "forged.ack")
        #expect(try server.sftp("newvendor", ["put forged.ack /receipts/\(id).ack"]).status != 0)

        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.json", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
        #expect(exported.status == 0)
        let verified = try server.sealdrop(["audit", "verify", "log.json", "--ca", "ca/trust/ca.pem"])
        #expect(verified.status == 0, "\(verified.standardError)")

        // A server that swaps in an acknowledgment signed by another vendor (and re-signs its log) is caught.
        let receiptKey = try VendorIdentity.load(path: server.data + "/receipt_ed25519_key", passphrase: .none)
        var bundle = try LogExport(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: server.directory.file("log.json")))))
        var entries = bundle.entries
        let ackIndex = try #require(entries.firstIndex { String(decoding: $0, as: UTF8.self).contains("\"kind\":\"acknowledged\"") })
        var fields = try #require(try JSONSerialization.jsonObject(with: Data(entries[ackIndex])) as? [String: Any])
        let original = try JSONDecoder().decode(Acknowledgment.self, from: Data((fields["detail"] as? String ?? "").utf8))
        let swapped = Acknowledgment.sign(
            transfer: id, ciphertextSHA256: Hex.decode(original.ciphertextSHA256)!, plaintextSHA256: Hex.decode(original.plaintextSHA256)!,
            at: Date(), with: stranger.signingKey)
        fields["detail"] = String(decoding: try JSONEncoder().encode(swapped), as: UTF8.self)
        entries[ackIndex] = [UInt8](try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
        bundle.entries = entries
        bundle.header.treeHead = SignedTreeHead.sign(entries: entries, at: Date(), with: receiptKey.signingKey)
        try Data(bundle.encoded()).write(to: URL(fileURLWithPath: server.directory.file("swapped.json")))
        let caught = try server.sealdrop(["audit", "verify", "swapped.json", "--ca", "ca/trust/ca.pem"])
        #expect(caught.status == 3)
        #expect(caught.standardError.contains("not signed by newvendor's certificate"), "\(caught.standardError)")
    }

    @Test func aSignedDeclarationReachesTheReport() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        #expect(
            try server.sealdrop(["ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--pubkey", "data/receipt_ed25519_key.pub", "--role", "server"]).status
                == 0)
        _ = try server.directory.write(Fixtures.bytes(1000), to: "x")
        let sent = try Self.run(
            server, environment,
            [
                "send", "x", "--to", "newvendor", "--profile", "oldvendor", "--purpose", "LIS migration", "--reference", "contract 2026-114",
                "--category", "patients", "--category", "results", "--records", "491840",
            ])
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(sent.output.contains("declaration: declared"))
        let refused = try Self.run(server, environment, ["send", "x", "--to", "newvendor", "--profile", "oldvendor", "--records", "5"])
        #expect(refused.status == 2, "a declaration without a purpose")
        let exported = try Subprocess.run(
            Fixtures.sealdropd, ["log", "export", "-o", "log.json", "--data", server.data, "--trust", server.trust], directory: server.directory.path)
        #expect(exported.status == 0)
        let report = try server.sealdrop(["audit", "report", "log.json", "--ca", "ca/trust/ca.pem", "--csv", "r.csv"])
        #expect(report.status == 0, "\(report.standardError)")
        let csv = String(decoding: try server.directory.read("r.csv"), as: UTF8.self)
        #expect(csv.contains("LIS migration; ref. contract 2026-114; patients, results; 491840 records"), "\(csv)")
    }

    @Test func sendFromAPipe() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        let plaintext = Fixtures.bytes(500_000, seed: 3)
        let sent = try Self.run(server, environment, ["send", "-", "--name", "dump.sql", "--to", "newvendor", "--profile", "oldvendor"], input: plaintext)
        #expect(sent.status == 0, "\(sent.standardError)")
        let id = try #require(try Self.inboxIDs(server, environment).first)
        let received = try Self.run(server, environment, ["receive", id, "-o", "dump.out", "--profile", "newvendor"])
        #expect(received.output.contains("file name: dump.sql"))
        #expect(try server.directory.read("dump.out") == plaintext)
    }

    @Test func aWrongHostKeyIsRefusedBeforeAnythingIsSent() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        _ = try server.directory.write([1, 2, 3], to: "x")
        let refused = try Self.run(
            server, environment,
            [
                "send", "x", "--to", "newvendor", "--profile", "oldvendor",
                "--host-key", "SHA256:" + String(repeating: "A", count: 43),
            ])
        #expect(refused.status == 6)
        #expect(refused.standardError.contains(server.hostKeyFingerprint), "both fingerprints are shown")
        #expect(refused.standardError.contains("sealdrop: hint: someone may be impersonating"))
        #expect(server.entries("blobs").isEmpty && server.entries("staging").isEmpty)
        #expect(!server.log().contains("session start"), "the client stopped before logging in")
    }

    @Test func unknownAndRevokedRecipientsAreRefusedBeforeUpload() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        _ = try server.directory.write([1, 2, 3], to: "x")
        let revoked = try Self.run(server, environment, ["send", "x", "--to", "formervendor", "--profile", "oldvendor"])
        #expect(revoked.status == 5)
        #expect(revoked.standardError.contains("revoked"))
        let unknown = try Self.run(server, environment, ["send", "x", "--to", "nobody", "--profile", "oldvendor"])
        #expect(unknown.status == 5)
        // A certificate that ran out: issued by the same CA, valid for one day, two days ago.
        var authority = try CertificateAuthority.load(directory: server.directory.file("ca"), passphrase: .none)
        try authority.issue(
            name: try VendorName("lapsed"), subjectKey: VendorIdentity.generate().publicKey, role: .vendor, days: 1,
            now: Date().addingTimeInterval(-2 * 86_400))
        let lapsed = try Self.run(server, environment, ["send", "x", "--to", "lapsed", "--profile", "oldvendor"])
        #expect(lapsed.status == 5)
        #expect(lapsed.standardError.contains("expired"), "\(lapsed.standardError)")
        #expect(server.entries("blobs").isEmpty && server.entries("staging").isEmpty)
        #expect(!server.log().contains("upload"), "nothing reached the upload stage")
    }

    @Test func somebodyElsesTransferCannotBeReceived() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        _ = try server.directory.write([1, 2, 3], to: "x")
        #expect(try Self.run(server, environment, ["send", "x", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
        let id = try #require(try Self.inboxIDs(server, environment).first)
        let stolen = try Self.run(server, environment, ["receive", id, "-o", "stolen", "--profile", "stranger"])
        #expect(stolen.status == 6)
        #expect(!FileManager.default.fileExists(atPath: server.directory.file("stolen")))
        #expect(server.entries("blobs").count == 1, "still there for newvendor")
    }

    @Test func anInterruptedReceiveResumesToAVerifiedFile() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        let plaintext = Fixtures.bytes(120 * 1024 * 1024, seed: 9)
        _ = try server.directory.write(plaintext, to: "big")
        #expect(try Self.run(server, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor", "--quiet"]).status == 0)
        let id = try #require(try Self.inboxIDs(server, environment).first)

        let (process, partial) = try Self.startReceive(server, environment, id, output: "big.out", waiting: 30)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(partial > 0 && partial < UInt64(plaintext.count), "killed mid-transfer (at \(partial) bytes)")
        #expect(!FileManager.default.fileExists(atPath: server.directory.file("big.out")))

        let resumed = try Self.run(server, environment, ["receive", id, "-o", "big.out", "--profile", "newvendor"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardError.contains("resuming at byte"))
        #expect(try server.directory.read("big.out") == plaintext)
        #expect(server.entries("blobs").isEmpty)
    }

    @Test func aCorruptedDownloadLeavesNoOutput() throws {
        let server = try ServerFixture()
        let environment = try Self.profiles(server)
        _ = try server.directory.write(Fixtures.bytes(300_000), to: "x")
        #expect(try Self.run(server, environment, ["send", "x", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
        // The server's copy is altered on disk (a malicious or broken server).
        let blob = try #require(server.entries("blobs").first)
        let path = server.data + "/blobs/" + blob
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[200_000] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let id = try #require(try Self.inboxIDs(server, environment).first)
        let received = try Self.run(server, environment, ["receive", id, "-o", "x.out", "--profile", "newvendor"])
        #expect(received.status == 3)
        #expect(received.standardError.contains("fails authentication"))
        #expect(!FileManager.default.fileExists(atPath: server.directory.file("x.out")))
        #expect(try server.directory.entries().filter { $0.hasPrefix(".x.out") && !$0.hasSuffix("sealdrop-part") }.isEmpty)
    }
}
