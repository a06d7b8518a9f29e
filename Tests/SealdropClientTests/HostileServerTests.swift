import Foundation
import SealdropClient
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropLayout
import SealdropSFTP
import SealdropSSH
import SealdropTrust
import Testing
import TestSupport

/// The client against a drop box that lies: every answer below is one a
/// compromised server (with the pinned host key) could give. Each must end
/// in a clear error naming the drop box, with nothing written outside the
/// chosen folder and the pinned files untouched.
@Suite struct HostileServerTests {
    func expectCode(_ code: DropBoxError.Code, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected a \(code) error", sourceLocation: sourceLocation)
        } catch let error as DropBoxError {
            #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
            #expect(isTerminalSafe(error.message), "\(error.message)", sourceLocation: sourceLocation)
            #expect(error.message.count < 600, sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected a \(code) error, got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func traversalAndAbsoluteNamesInTheDirectoryAreRefused() throws {
        let fixture = try HostileFixture()
        let pinned = fixture.pinnedFiles()
        let before = fixture.allFiles()
        for name in ["../../config/sealdrop/newvendor.pem", "/etc/evil.pem", "..pem", "ca.pem/../x.pem", "Evil\u{202E}mep.pem", "a\u{1b}[2J.pem"] {
            fixture.serveHonestDirectory()
            fixture.server.listings["/directory"]!.append(MaliciousServer.entry(name))
            fixture.server.files["/directory/" + name] = fixture.read("ca/trust/vendors/oldvendor.pem")
            let dropBox = try fixture.client()
            expectCode(.invalidName) { _ = try fixture.trustStore(dropBox) }
        }
        #expect(fixture.pinnedFiles() == pinned)
        #expect(fixture.allFiles() == before, "nothing was written anywhere")
    }

    @Test func inboxNamesThatAreNotTransferIDsAreRefused() throws {
        let fixture = try HostileFixture()
        let hex = String(repeating: "ab", count: 16)
        for name in [
            "../../.bashrc", "/etc/passwd", "../\(hex).sealdrop", "\(hex.uppercased()).sealdrop", String(repeating: "zz", count: 16) + ".sealdrop",
            "\(hex).sealdrop\u{1b}]0;owned\u{7}", "\u{202E}\(hex).sealdrop", hex, "\(hex)0.sealdrop",
        ] {
            fixture.server.listings["/inbox"] = [MaliciousServer.entry(name)]
            expectCode(.invalidName) { _ = try fixture.client().inbox() }
        }
    }

    @Test func listedSendersAndStatesFollowTheRules() throws {
        let fixture = try HostileFixture()
        let id = String(repeating: "0f", count: 16)
        // Today's server: the sender is the long name's owner column.
        fixture.server.listings["/inbox"] = [MaliciousServer.entry("\(id).sealdrop", owner: "Old\u{1b}[31mvendor")]
        expectCode(.invalidName) { _ = try fixture.client().inbox() }
        fixture.server.listings["/sent"] = [MaliciousServer.entry("\(id).sealdrop", owner: "pwned")]
        expectCode(.invalidName) { _ = try fixture.client("oldvendor").status() }
        fixture.server.listings["/inbox"] = [MaliciousServer.entry("\(id).sealdrop", owner: "oldvendor")]
        let listed = try fixture.client().inbox()
        #expect(listed.map(\.id) == [id] && listed.map(\.sender) == ["oldvendor"])
    }

    @Test func typedAttributesAreRequiredOncePromisedAndChecked() throws {
        let fixture = try HostileFixture()
        fixture.server.echoAttributes = true
        let id = String(repeating: "1e", count: 16)
        let good = [
            (DropBoxAttributes.sender, "oldvendor"), (DropBoxAttributes.recipient, "newvendor"), (DropBoxAttributes.state, "available"),
            (DropBoxAttributes.expires, "1900000000"),
        ]
        fixture.server.listings["/inbox"] = [MaliciousServer.entry("\(id).sealdrop", owner: "ignored", extended: good)]
        let dropBox = try fixture.client()
        #expect(dropBox.hasTypedAttributes)
        let entry = try #require(try dropBox.inbox().first)
        #expect(entry.sender == "oldvendor" && entry.recipient == "newvendor" && entry.state == "available")
        #expect(entry.expires == Date(timeIntervalSince1970: 1_900_000_000))

        let cases: [(DropBoxError.Code, [(String, String)])] = [
            (.missingAttribute, Array(good.dropFirst())),
            (.invalidName, [(DropBoxAttributes.sender, "../x")] + good.dropFirst()),
            (.invalidName, good.map { $0.0 == DropBoxAttributes.state ? ($0.0, "available\u{202E}") : $0 }),
            (.invalidName, good.map { $0.0 == DropBoxAttributes.expires ? ($0.0, "-1") : $0 }),
            (.wrongEnvelope, good.map { $0.0 == DropBoxAttributes.recipient ? ($0.0, "stranger") : $0 }),
            (.tooLarge, good.map { $0.0 == DropBoxAttributes.sender ? ($0.0, String(repeating: "a", count: 5000)) : $0 }),
            (.protocolViolation, good + [good[0]]),
        ]
        for (code, extended) in cases {
            fixture.server.listings["/inbox"] = [MaliciousServer.entry("\(id).sealdrop", extended: extended)]
            expectCode(code) { _ = try fixture.client().inbox() }
        }
    }

    @Test func aTransferListedTwiceIsRefused() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(100))
        fixture.offer(envelope, as: id)
        fixture.offer(envelope, as: id)
        expectCode(.protocolViolation) { _ = try fixture.client().inbox() }
    }

    @Test func aMalformedOversizedOrForeignReceiptIsRefused() throws {
        let fixture = try HostileFixture()
        let id = String(repeating: "7d", count: 16)
        let dropBox = try fixture.client()
        let trust = try fixture.trustStore(dropBox)
        let before = fixture.allFiles()
        fixture.server.files["/receipts/\(id).json"] = Array("{\"transfer\": \"\u{1b}[2J\"}".utf8)
        expectCode(.badReceipt) { _ = try dropBox.receipt(id, trust: trust) }
        fixture.server.files["/receipts/\(id).json"] = [UInt8](repeating: 0x20, count: DropBoxClient.maximumReceiptSize + 1)
        expectCode(.tooLarge) { _ = try dropBox.receipt(id, trust: trust) }
        #expect(fixture.allFiles() == before, "nothing saved")
    }

    @Test func anEndlessListingIsCutOff() throws {
        let fixture = try HostileFixture()
        fixture.server.endless["/inbox"] = { index in MaliciousServer.entry(String(format: "%032x", index) + ".sealdrop") }
        expectCode(.tooLarge) { _ = try fixture.client().inbox() }
        // Long names: the byte limit stops the listing long before memory grows.
        let long = String(repeating: "n", count: 1000)
        fixture.server.endless["/inbox"] = { _ in MaliciousServer.entry(long) }
        expectCode(.tooLarge) { _ = try fixture.client().inbox() }
        // Names too long for one packet: refused by the framer before buffering.
        let huge = String(repeating: "n", count: 200_000)
        fixture.server.endless["/inbox"] = { _ in MaliciousServer.entry(huge) }
        expectCode(.protocolViolation) { _ = try fixture.client().inbox() }
    }

    @Test func aCertificateOrRevocationListOfManyMegabytesIsRefused() throws {
        let fixture = try HostileFixture()
        let pinned = fixture.pinnedFiles()
        fixture.server.files["/directory/revocations.crl"] = [UInt8](repeating: 0x41, count: 8 << 20)
        expectCode(.tooLarge) { _ = try fixture.trustStore(try fixture.client()) }
        fixture.serveHonestDirectory()
        fixture.server.files["/directory/oldvendor.pem"] = [UInt8](repeating: 0x41, count: 8 << 20)
        expectCode(.tooLarge) { _ = try fixture.trustStore(try fixture.client()) }
        #expect(fixture.pinnedFiles() == pinned)
    }

    @Test func aSwappedCertificateDoesNotVerify() throws {
        let fixture = try HostileFixture()
        // The drop box files stranger's certificate as oldvendor's: the name check catches it.
        fixture.server.files["/directory/oldvendor.pem"] = fixture.read("ca/trust/vendors/stranger.pem")
        let store = try fixture.trustStore(try fixture.client())
        #expect(throws: TrustError.self) { _ = try store.party(named: VendorName("oldvendor"), for: .recipient) }
    }

    @Test func anHonestTransferIsReceivedOnceAndItsReplayRefused() throws {
        let fixture = try HostileFixture()
        let plaintext = Fixtures.bytes(300_000, seed: 4)
        let (envelope, id) = try fixture.seal(plaintext)
        fixture.offer(envelope, as: id)
        let dropBox = try fixture.client()
        let trust = try fixture.trustStore(dropBox)
        var journal = try ReceivedJournal(file: fixture.directory.file("journal"))
        let folder = try OutputDirectory(path: fixture.directory.file("."))
        try dropBox.download(id, into: folder, part: ".out.part", journal: journal)
        let received = try dropBox.open(
            part: ".out.part", in: folder, transfer: id, trust: trust, journal: &journal, to: folder, name: "out", overwrite: false)
        #expect(received.sender == "oldvendor" && received.acknowledgmentFailure == nil)
        #expect(try fixture.directory.read("out") == plaintext)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file(".out.part")))
        #expect(fixture.server.written["/receipts/\(id).ack"]?.isEmpty == false, "the acknowledgment was uploaded")
        #expect(try ReceivedJournal(file: fixture.directory.file("journal")).contains(id))

        // The same envelope again, under its own id: refused before a byte is fetched.
        let opens = fixture.server.openedPaths.count
        expectCode(.replayed) { try dropBox.download(id, into: folder, part: ".again.part", journal: journal) }
        #expect(fixture.server.openedPaths.count == opens)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file(".again.part")))
    }

    @Test func anEnvelopeServedForAnotherIDIsRefused() throws {
        let fixture = try HostileFixture()
        let (envelope, realID) = try fixture.seal(Fixtures.bytes(5000))
        let askedID = String(repeating: "5a", count: 16)
        fixture.offer(envelope, as: askedID)
        let dropBox = try fixture.client()
        let trust = try fixture.trustStore(dropBox)
        var journal = try ReceivedJournal(file: fixture.directory.file("journal"))
        let folder = try OutputDirectory(path: fixture.directory.path)
        try dropBox.download(askedID, into: folder, part: ".x.part", journal: journal)
        expectCode(.wrongEnvelope) {
            _ = try dropBox.open(part: ".x.part", in: folder, transfer: askedID, trust: trust, journal: &journal, to: folder, name: "x", overwrite: false)
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("x")))
        #expect(FileManager.default.fileExists(atPath: fixture.directory.file(".x.part")), "kept as evidence")
        #expect(!journal.contains(realID) && !journal.contains(askedID))

        // An old envelope (received before) served under a fresh id is refused too.
        try journal.record(realID)
        expectCode(.wrongEnvelope) {
            _ = try dropBox.describe(part: ".x.part", in: folder, transfer: askedID, trust: trust, journal: journal)
        }
        expectCode(.replayed) {
            _ = try dropBox.describe(part: ".x.part", in: folder, transfer: realID, trust: trust, journal: journal)
        }
    }

    @Test func anEnvelopeForAnotherVendorIsRefused() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(5000), to: "stranger")
        fixture.offer(envelope, as: id)
        let dropBox = try fixture.client()
        let trust = try fixture.trustStore(dropBox)
        var journal = try ReceivedJournal(file: fixture.directory.file("journal"))
        let folder = try OutputDirectory(path: fixture.directory.path)
        try dropBox.download(id, into: folder, part: ".x.part", journal: journal)
        expectCode(.wrongEnvelope) {
            _ = try dropBox.open(part: ".x.part", in: folder, transfer: id, trust: trust, journal: &journal, to: folder, name: "x", overwrite: false)
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("x")))
    }

    @Test func aPlantedLinkAtThePartFileIsNotFollowed() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(5000))
        fixture.offer(envelope, as: id)
        let victim = try fixture.directory.write(Array("precious".utf8), to: "victim")
        try FileManager.default.createSymbolicLink(atPath: fixture.directory.file(".x.part"), withDestinationPath: victim)
        let folder = try OutputDirectory(path: fixture.directory.path)
        #expect(throws: IOError.self) {
            try fixture.client().download(id, into: folder, part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        }
        #expect(try fixture.directory.read("victim") == Array("precious".utf8))
    }

    @Test func serverMessagesAreSanitisedAndCut() throws {
        let fixture = try HostileFixture()
        fixture.server.removeRefusal = "\u{1b}]0;pwned\u{7}\u{202E}gnirts\n" + String(repeating: "x", count: 100_000)
        do {
            try fixture.client("oldvendor").revoke(String(repeating: "ab", count: 16))
            Issue.record("the refusal was not reported")
        } catch let error as DropBoxError {
            #expect(error.code == .refused)
            #expect(isTerminalSafe(error.message) && !error.message.contains("\n"), "\(error.message)")
            #expect(error.message.contains("\\u{202e}") && error.message.count < 400)
        }
    }

    @Test func aServerStalledMidTransferTimesOut() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(3 << 20))
        fixture.offer(envelope, as: id)
        fixture.server.stallReadsFrom = 1 << 20
        let dropBox = try fixture.client(timeout: 2)
        let folder = try OutputDirectory(path: fixture.directory.path)
        let started = Date()
        do {
            try dropBox.download(id, into: folder, part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
            Issue.record("the stalled download returned")
        } catch let error as SSHError {
            #expect(error.code == .timedOut, "\(error.message)")
        }
        let waited = Date().timeIntervalSince(started)
        print("a download stalled at 1 MiB was given up after \(String(format: "%.1f", waited)) s (timeout 2 s)")
        #expect(waited < 30, "gave up instead of waiting forever")
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("x")))
    }

    @Test func aServerThatStopsReadingAnUploadTimesOut() throws {
        let fixture = try HostileFixture()
        fixture.server.stallOnUpload = true
        let dropBox = try fixture.client("oldvendor", timeout: 2)
        let trust = try fixture.trustStore(dropBox, vendors: ["newvendor", "oldvendor"])
        let recipient = try trust.party(named: VendorName("newvendor"), for: .recipient)
        let me = try trust.party(key: dropBox.identity.publicKey, for: .sender)
        let request = SealRequest(
            recipient: recipient.key,
            parties: EnvelopeParties(senderCertificate: me.certificate.fingerprint, recipientCertificate: recipient.certificate.fingerprint),
            description: try FileDescription(fileName: "x"), created: Date(), expires: Date().addingTimeInterval(3600))
        let input = try fixture.directory.write(Fixtures.bytes(32 << 20), to: "big")
        var source = try FileDescriptor.openForReading(input)
        let started = Date()
        do {
            _ = try dropBox.send(from: &source, to: recipient, request: request)
            Issue.record("the stalled upload returned")
        } catch let error as SSHError {
            #expect(error.code == .timedOut, "\(error.message)")
        }
        let waited = Date().timeIntervalSince(started)
        print("an upload the server stopped reading was given up after \(String(format: "%.1f", waited)) s (timeout 2 s)")
        #expect(waited < 30, "gave up instead of waiting forever")
    }

    @Test func aServerStalledBeforeSFTPStartsTimesOut() throws {
        let fixture = try HostileFixture()
        fixture.server.stallAtInit = true
        #expect(throws: SSHError(.timedOut, "")) { _ = try fixture.client(timeout: 2) }
    }

    @Test func aServerStalledAtConnectOrKeyExchangeTimesOut() throws {
        let fixture = try HostileFixture()
        for banner in [nil, "SSH-2.0-OpenSSH_9.2\r\n"] {
            let silent = try SilentListener(banner: banner)
            let started = Date()
            do {
                _ = try DropBoxClient(
                    host: "127.0.0.1", port: silent.port, pinnedHostKey: fixture.server.hostKeyFingerprint, user: "newvendor",
                    identity: try VendorIdentity.load(path: fixture.directory.file("newvendor"), passphrase: .none), timeout: 2)
                Issue.record("connected to a silent server")
            } catch let error as SSHError {
                #expect(error.code == .timedOut, "\(banner ?? "no banner"): \(error.message)")
            }
            let waited = Date().timeIntervalSince(started)
            print("a server silent \(banner == nil ? "before its banner" : "after its banner") was given up after \(String(format: "%.1f", waited)) s")
            #expect(waited < 30)
        }
    }
}
