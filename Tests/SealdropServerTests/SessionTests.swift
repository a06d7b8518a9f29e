import Foundation
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
@testable import SealdropServer
import SealdropSFTP
import SealdropStore
import SealdropTrust
import Testing
import TestSupport

/// SFTP sessions driven in-process, for what needs two sessions at once,
/// a clock, or a restart.
final class DropBoxWorld: @unchecked Sendable {
    let directory: TemporaryDirectory
    var authority: CertificateAuthority
    var keys: [String: VendorIdentity] = [:]
    var dropBox: DropBox
    var configuration: DropBoxConfiguration

    init(maximumExpiry: TimeInterval = 14 * 86_400) throws {
        directory = try TemporaryDirectory()
        authority = try CertificateAuthority.create(directory: directory.file("ca"), name: "Test CA", days: 30)
        for name in ["oldvendor", "newvendor", "stranger"] {
            let key = VendorIdentity.generate(comment: name)
            keys[name] = key
            try authority.issue(name: try VendorName(name), subjectKey: key.publicKey, role: .vendor, days: 30)
        }
        configuration = DropBoxConfiguration(dataDirectory: directory.file("data"), trustDirectory: authority.trustDirectory)
        configuration.maximumExpiry = maximumExpiry
        dropBox = try DropBox(configuration: configuration)
    }

    func reopen() throws {
        dropBox = try DropBox(configuration: configuration)
    }

    func session(_ name: String) throws -> SFTPSession {
        let party = try TrustStore.load(directory: authority.trustDirectory).party(named: try VendorName(name), for: .sender)
        let session = SFTPSession(dropBox: dropBox, vendor: party, sourceAddress: "test")
        _ = session.handle(.initialize(version: 3, extensions: []))
        return session
    }

    func envelope(_ size: Int = 5000, from sender: String = "oldvendor", to recipient: String = "newvendor", expiresIn: TimeInterval = 3600) throws -> [UInt8] {
        let store = try TrustStore.load(directory: authority.trustDirectory)
        let me = try store.party(named: try VendorName(sender), for: .sender)
        let them = try store.party(named: try VendorName(recipient), for: .recipient)
        var source = MemorySource(Fixtures.bytes(size))
        var sink = MemorySink()
        _ = try EnvelopeSealer.seal(
            from: &source, to: &sink, sender: keys[sender]!,
            request: SealRequest(
                recipient: them.key,
                parties: EnvelopeParties(senderCertificate: me.certificate.fingerprint, recipientCertificate: them.certificate.fingerprint),
                description: try FileDescription(fileName: "x"), expires: Date().addingTimeInterval(expiresIn)))
        return sink.bytes
    }

    /// OPEN, WRITE in 32 KiB pieces, CLOSE; returns the CLOSE status.
    func upload(_ bytes: [UInt8], as session: SFTPSession, to vendor: String = "newvendor") -> SFTPMessage {
        guard
            case .handle(_, let handle) = session.handle(
                .open(id: 1, path: Array("/outbox/\(vendor)/x".utf8), flags: [.write, .create, .truncate], attributes: .empty)
            ).first
        else { return .status(id: 0, code: .failure, message: "open refused") }
        var offset = 0
        while offset < bytes.count {
            let piece = Array(bytes[offset..<min(offset + 32_768, bytes.count)])
            _ = session.handle(.write(id: 2, handle: handle, offset: UInt64(offset), data: piece))
            offset += piece.count
        }
        return session.handle(.close(id: 3, handle: handle)).first!
    }

    func inboxIDs(_ session: SFTPSession) -> [String] {
        guard case .handle(_, let handle) = session.handle(.opendir(id: 4, path: Array("/inbox".utf8))).first,
            case .name(_, let entries) = session.handle(.readdir(id: 5, handle: handle)).first
        else { return [] }
        _ = session.handle(.close(id: 6, handle: handle))
        return entries.map { String(decoding: $0.filename, as: UTF8.self) }.filter { $0.hasSuffix(".sealdrop") }
    }

    func blobs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: configuration.blobDirectory)) ?? []).sorted()
    }

    func staging() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: configuration.stagingDirectory)) ?? []).sorted()
    }
}

@Suite struct SessionTests {
    static func isOK(_ message: SFTPMessage) -> Bool {
        if case .status(_, .ok, _) = message { return true }
        return false
    }

    @Test func aSecondConcurrentDownloadJoinsTheRecipientsClaim() throws {
        let world = try DropBoxWorld()
        #expect(Self.isOK(world.upload(try world.envelope(), as: try world.session("oldvendor"))))
        let first = try world.session("newvendor")
        let second = try world.session("newvendor")
        let name = try #require(world.inboxIDs(first).first)
        let path = Array("/inbox/\(name)".utf8)
        guard case .handle = first.handle(.open(id: 1, path: path, flags: .read, attributes: .empty)).first else {
            Issue.record("the first download was refused")
            return
        }
        guard case .handle = second.handle(.open(id: 1, path: path, flags: .read, attributes: .empty)).first else {
            Issue.record("the recipient's second connection was refused")
            return
        }
        let stranger = try world.session("oldvendor")
        guard case .status(_, let code, _) = stranger.handle(.open(id: 1, path: path, flags: .read, attributes: .empty)).first else {
            Issue.record("the sender opened the recipient's download")
            return
        }
        #expect(code != .ok)
    }

    @Test func anInterruptedDownloadResumesInANewSessionAndThenDelivers() throws {
        let world = try DropBoxWorld()
        let envelope = try world.envelope(200_000)
        #expect(Self.isOK(world.upload(envelope, as: try world.session("oldvendor"))))
        let name = try #require(world.inboxIDs(try world.session("newvendor")).first)
        let path = Array("/inbox/\(name)".utf8)

        var received = [UInt8](repeating: 0, count: envelope.count)
        func fetch(_ session: SFTPSession, _ range: Range<Int>) throws -> [UInt8] {
            guard case .handle(_, let handle) = session.handle(.open(id: 1, path: path, flags: .read, attributes: .empty)).first else {
                throw FixtureError.setup("open refused")
            }
            var offset = range.lowerBound
            while offset < range.upperBound {
                guard case .data(_, let data) = session.handle(.read(id: 2, handle: handle, offset: UInt64(offset), length: 32_768)).first else { break }
                received.replaceSubrange(offset..<(offset + data.count), with: data)
                offset += data.count
            }
            return handle
        }
        do {
            let interrupted = try world.session("newvendor")
            _ = try fetch(interrupted, 0..<100_000)
            interrupted.end()  // the connection dropped
        }
        #expect(world.blobs().count == 1, "an unfinished download keeps the blob")
        // The lost handle's bytes do not count: reading only the rest and
        // closing is not a delivery.
        let tail = try world.session("newvendor")
        let tailHandle = try fetch(tail, 100_000..<envelope.count)
        #expect(tail.handle(.close(id: 9, handle: tailHandle)).first == .status(id: 9, code: .ok, message: ""))
        #expect(world.blobs().count == 1, "the first half was never received on a CLOSEd handle")
        let resumed = try world.session("newvendor")
        let handle = try fetch(resumed, 0..<100_000)
        #expect(resumed.handle(.close(id: 9, handle: handle)).first == .status(id: 9, code: .ok, message: "delivered"))
        #expect(received == envelope)
        #expect(world.blobs().isEmpty)
        #expect(world.inboxIDs(resumed).isEmpty)
    }

    @Test func anExpiredTransferIsInvisibleAndReaped() throws {
        let world = try DropBoxWorld()
        #expect(Self.isOK(world.upload(try world.envelope(expiresIn: 3), as: try world.session("oldvendor"))))
        let recipient = try world.session("newvendor")
        #expect(world.inboxIDs(recipient).count == 1)
        Thread.sleep(forTimeInterval: 3.2)
        #expect(world.inboxIDs(recipient).isEmpty, "expiry is enforced on access, before the reaper runs")
        #expect(world.dropBox.reap() == 1)
        #expect(world.blobs().isEmpty)
        #expect(try world.dropBox.events().map(\.kind).suffix(2) == [.expired, .deleted])
    }

    @Test func anExpiryBeyondTheCeilingIsRefused() throws {
        let world = try DropBoxWorld(maximumExpiry: 3600)
        let close = world.upload(try world.envelope(expiresIn: 7200), as: try world.session("oldvendor"))
        guard case .status(_, .failure, let message) = close else {
            Issue.record("accepted an expiry beyond the ceiling")
            return
        }
        #expect(message.contains("beyond this server's ceiling"))
        #expect(world.blobs().isEmpty && world.staging().isEmpty)
    }

    @Test func aRestartMidUploadPublishesNothingAndCleansUp() throws {
        let world = try DropBoxWorld()
        let session = try world.session("oldvendor")
        guard
            case .handle(_, let handle) = session.handle(.open(id: 1, path: Array("/outbox/newvendor/x".utf8), flags: [.write, .create], attributes: .empty))
                .first
        else {
            Issue.record("open refused")
            return
        }
        _ = session.handle(.write(id: 2, handle: handle, offset: 0, data: Array(try world.envelope().prefix(10_000))))
        #expect(world.staging().count == 1)
        // The process dies: no session cleanup runs. A new start removes the leftover.
        try world.reopen()
        #expect(world.staging().isEmpty)
        #expect(world.inboxIDs(try world.session("newvendor")).isEmpty)
    }

    func openDownload(_ world: DropBoxWorld, _ session: SFTPSession) throws -> [UInt8] {
        let name = try #require(world.inboxIDs(session).first)
        guard case .handle(_, let handle) = session.handle(.open(id: 1, path: Array("/inbox/\(name)".utf8), flags: .read, attributes: .empty)).first else {
            throw FixtureError.setup("open refused")
        }
        return handle
    }

    @Test func readingEverythingThenVanishingIsNoDelivery() throws {
        let world = try DropBoxWorld()
        let envelope = try world.envelope(100_000)
        #expect(Self.isOK(world.upload(envelope, as: try world.session("oldvendor"))))
        do {
            let session = try world.session("newvendor")
            let handle = try openDownload(world, session)
            var offset: UInt64 = 0
            while case .data(_, let data) = session.handle(.read(id: 2, handle: handle, offset: offset, length: 65_536)).first {
                offset += UInt64(data.count)
            }
            #expect(offset == UInt64(envelope.count))
            session.end()  // no CLOSE: the connection dropped
        }
        #expect(world.blobs().count == 1, "nothing says the client kept those bytes")
        let again = try world.session("newvendor")
        #expect(world.inboxIDs(again).count == 1, "the recipient may download it again")
        let handle = try openDownload(world, again)
        var offset: UInt64 = 0
        while case .data(_, let data) = again.handle(.read(id: 3, handle: handle, offset: offset, length: 65_536)).first {
            offset += UInt64(data.count)
        }
        #expect(again.handle(.close(id: 4, handle: handle)).first == .status(id: 4, code: .ok, message: "delivered"))
        #expect(world.blobs().isEmpty)
    }

    @Test func expiryIsCheckedOnEveryRead() throws {
        let world = try DropBoxWorld()
        #expect(Self.isOK(world.upload(try world.envelope(100_000, expiresIn: 3), as: try world.session("oldvendor"))))
        let session = try world.session("newvendor")
        let handle = try openDownload(world, session)
        guard case .data = session.handle(.read(id: 2, handle: handle, offset: 0, length: 1000)).first else {
            Issue.record("the first read failed")
            return
        }
        Thread.sleep(forTimeInterval: 3.2)
        guard case .status(_, .failure, let message) = session.handle(.read(id: 3, handle: handle, offset: 1000, length: 1000)).first else {
            Issue.record("a read after expiry was served")
            return
        }
        #expect(message.contains("expired"))
    }

    @Test func scatteredReadsAreCapped() throws {
        let world = try DropBoxWorld()
        #expect(Self.isOK(world.upload(try world.envelope(300_000), as: try world.session("oldvendor"))))
        let session = try world.session("newvendor")
        let handle = try openDownload(world, session)
        var refused = false
        for index in 0..<(SessionRules.maximumServedRanges + 1) {
            if case .status(_, .failure, _) = session.handle(.read(id: 2, handle: handle, offset: UInt64(index * 2), length: 1)).first {
                refused = true
                break
            }
        }
        #expect(refused)
    }

    @Test func theSameTransferCannotBeOpenedTwiceInOneSession() throws {
        let world = try DropBoxWorld()
        #expect(Self.isOK(world.upload(try world.envelope(), as: try world.session("oldvendor"))))
        let session = try world.session("newvendor")
        let name = try #require(world.inboxIDs(session).first)
        _ = try openDownload(world, session)
        guard case .status(_, .failure, let message) = session.handle(.open(id: 5, path: Array("/inbox/\(name)".utf8), flags: .read, attributes: .empty)).first
        else {
            Issue.record("opened twice")
            return
        }
        #expect(message.contains("already open"))
    }

    @Test func openUploadsAreLimitedPerSession() throws {
        let world = try DropBoxWorld()
        let session = try world.session("oldvendor")
        var refused = false
        for index in 0...SessionRules.maximumUploadsPerSession {
            let reply = session.handle(.open(id: UInt32(index), path: Array("/outbox/newvendor/x\(index)".utf8), flags: [.write, .create], attributes: .empty))
            if case .status(_, .failure, _) = reply.first { refused = true }
        }
        #expect(refused)
        #expect(world.staging().count == SessionRules.maximumUploadsPerSession)
        session.end()
        #expect(world.staging().isEmpty)
    }

    @Test func uploadsCannotLeaveHoles() throws {
        let world = try DropBoxWorld()
        let session = try world.session("oldvendor")
        guard
            case .handle(_, let handle) = session.handle(.open(id: 1, path: Array("/outbox/newvendor/x".utf8), flags: [.write, .create], attributes: .empty))
                .first
        else {
            Issue.record("open refused")
            return
        }
        guard case .status(_, .failure, let message) = session.handle(.write(id: 2, handle: handle, offset: 60 << 30, data: [1])).first else {
            Issue.record("a write far past the end was accepted")
            return
        }
        #expect(message.contains("contiguous"))
        #expect(Self.isOK(session.handle(.write(id: 3, handle: handle, offset: 0, data: [1, 2])).first!))
        #expect(Self.isOK(session.handle(.write(id: 4, handle: handle, offset: 1, data: [2, 3])).first!), "overlap is fine")
    }

    @Test func theSenderRevokesAndTheBlobIsGone() throws {
        let world = try DropBoxWorld()
        let sender = try world.session("oldvendor")
        #expect(Self.isOK(world.upload(try world.envelope(), as: sender)))
        let name = try #require(world.inboxIDs(try world.session("newvendor")).first)
        guard case .status(_, .noSuchFile, _) = try world.session("stranger").handle(.remove(id: 1, path: Array("/sent/\(name)".utf8))).first else {
            Issue.record("a stranger revoked")
            return
        }
        #expect(Self.isOK(sender.handle(.remove(id: 2, path: Array("/sent/\(name)".utf8))).first!))
        #expect(world.blobs().isEmpty)
        #expect(world.inboxIDs(try world.session("newvendor")).isEmpty)
    }

    /// The transfer id an envelope's header names.
    static func transferID(of envelope: [UInt8]) throws -> String {
        var source = MemorySource(envelope)
        return try EnvelopeHeaderReader.read(from: &source).header.transferIDString
    }

    @Test func anIdenticalRetryIsAlreadyPublishedOnce() throws {
        let world = try DropBoxWorld()
        let envelope = try world.envelope()
        let sender = try world.session("oldvendor")
        #expect(Self.isOK(world.upload(envelope, as: sender)))
        let id = try Self.transferID(of: envelope)
        #expect(world.upload(envelope, as: sender) == .status(id: 3, code: .ok, message: "transfer \(id) was already published"))
        #expect(world.blobs().count == 1 && world.staging().isEmpty)
        #expect(try world.dropBox.events().filter { $0.kind == .uploadPublished }.count == 1)
    }

    @Test func aDifferentFileUnderAUsedIDIsRefusedAsAReplay() throws {
        let world = try DropBoxWorld()
        let envelope = try world.envelope()
        let id = try Self.transferID(of: envelope)
        // The id was used before by a transfer with other bytes (one long gone, say).
        try world.dropBox.store.publish(
            Transfer(
                id: id, sender: "oldvendor", recipient: "newvendor", state: .available, size: 1, ciphertextSHA256: String(repeating: "0", count: 64),
                uploadedAt: Date(), expiresAt: Date().addingTimeInterval(60), blob: "gone.blob"),
            event: TransferEvent(time: Date(), kind: .uploadPublished, actor: "oldvendor", sourceAddress: "test", transferID: id))
        guard case .status(_, .failure, let message) = world.upload(envelope, as: try world.session("oldvendor")) else {
            Issue.record("a replay was accepted")
            return
        }
        #expect(message == "upload rejected: transfer \(id) was uploaded before; a replayed envelope is refused")
        #expect(world.staging().isEmpty && world.blobs().isEmpty)
        #expect(try world.dropBox.events().last?.kind == .uploadRejected)
    }

    @Test func unsupportedOperationsAndBadPacketsGetAnswers() throws {
        let world = try DropBoxWorld()
        let session = try world.session("oldvendor")
        let refusals: [SFTPMessage] = [
            .rename(id: 1, from: Array("/a".utf8), to: Array("/b".utf8)), .mkdir(id: 2, path: Array("/x".utf8), attributes: .empty),
            .symlink(id: 3, linkPath: Array("/l".utf8), targetPath: Array("/t".utf8)), .readlink(id: 4, path: Array("/l".utf8)),
            .extended(id: 5, request: Array("statvfs@openssh.com".utf8), data: []), .remove(id: 6, path: Array("/inbox".utf8)),
            .open(id: 7, path: Array("/etc/passwd".utf8), flags: .read, attributes: .empty),
        ]
        for request in refusals {
            guard case .status(let id, let code, let message) = session.handle(request).first else {
                Issue.record("no status for \(request.packetType)")
                continue
            }
            #expect(id == request.requestID)
            #expect(code != .ok, "\(request.packetType)")
            #expect(!message.isEmpty)
        }
        #expect(session.reply(to: SFTPError(.truncated, "cut", requestID: 8)) == .status(id: 8, code: .badMessage, message: "cut"))
    }
}
