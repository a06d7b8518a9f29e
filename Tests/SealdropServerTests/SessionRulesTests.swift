import Foundation
import SealdropKeys
import SealdropLayout
@testable import SealdropServer
import SealdropSFTP
import SealdropStore
import Testing

/// The drop box as plain values, for deciding without SQLite, a CA or a disk.
struct MemoryView: SessionView {
    var maximumFileSize: UInt64 = 1 << 30
    var transfers: [Transfer] = []
    /// Vendors whose certificates verify now.
    var valid: Set<String> = ["oldvendor", "newvendor"]
    var files: [String: [UInt8]] = ["ca.pem": Array("CA".utf8)]
    /// Transfer lookups fail, as with a database error.
    var failingLookups = false

    func transfer(id: String) throws -> Transfer? {
        if failingLookups { throw RulesError.unexpected("the metadata database failed") }
        return transfers.first { $0.id == id }
    }
    func inbox(recipient: String) throws -> [Transfer] {
        transfers.filter { $0.recipient == recipient && TransferState.pending.contains($0.state) }
    }
    func sent(by sender: String) throws -> [Transfer] { transfers.filter { $0.sender == sender } }
    func involving(_ vendor: String) throws -> [Transfer] { transfers.filter { $0.sender == vendor || $0.recipient == vendor } }
    func isStillValid(vendor: String, now: Date) -> Bool { valid.contains(vendor) }
    func recipients(now: Date) -> [String] { valid.sorted() }
    func isRecipient(_ name: String, now: Date) -> Bool { valid.contains(name) }
    func directoryNames() -> [String] { files.keys.sorted() }
    func directoryFile(_ name: String) -> (bytes: [UInt8], modified: Date)? { files[name].map { ($0, Date(timeIntervalSince1970: 0)) } }
    func receipt(for transferID: String, now: Date) throws -> [UInt8] { Array("{}".utf8) }
    func publishedHead(from: Int?, now: Date) throws -> [UInt8]? { Array("{}".utf8) }
}

/// A session's rules driven by hand: each effect's outcome is chosen by the test.
struct RulesHarness {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let id = String(repeating: "ab", count: 16)

    var rules: SessionRules
    var view = MemoryView()
    var now = Self.now

    init(vendor: String = "newvendor", attributes: Bool = false) {
        rules = SessionRules(vendor: vendor, key: VendorIdentity.generate(comment: vendor).publicKey, startedAt: Self.now)
        let extensions = attributes ? [SFTPExtensionPair(name: DropBoxAttributes.initExtension, data: DropBoxAttributes.initExtensionVersion)] : []
        _ = rules.receive(.initialize(version: 3, extensions: extensions), now: now, view: view)
    }

    static func transfer(size: UInt64 = 300_000, sender: String = "oldvendor", sha: String = "00", expires: TimeInterval = 3600) -> Transfer {
        Transfer(
            id: id, sender: sender, recipient: "newvendor", size: size, ciphertextSHA256: sha, uploadedAt: now,
            expiresAt: now.addingTimeInterval(expires), blob: "b")
    }

    mutating func receive(_ message: SFTPMessage) -> SessionAction? {
        rules.receive(message, now: now, view: view)
    }

    mutating func resume(_ outcome: EffectOutcome) -> SessionAction {
        rules.resume(outcome, now: now, view: view)
    }

    /// OPENs the inbox file and grants the claim; returns the handle.
    mutating func openDownload(_ transfer: Transfer) throws -> [UInt8] {
        view.transfers = [transfer]
        guard
            case .claimDownload(let handle, transfer.id)? = receive(
                .open(id: 1, path: Array("/inbox/\(transfer.id).sealdrop".utf8), flags: .read, attributes: .empty))
        else { throw RulesError.unexpected("no claim") }
        #expect(resume(.claimed(transfer)) == .reply(.handle(id: 1, handle: handle)))
        return handle
    }

    /// OPENs an upload to `recipient` and grants it; returns the handle.
    mutating func openUpload(to recipient: String = "newvendor") throws -> [UInt8] {
        guard case .startUpload(let handle)? = receive(.open(id: 1, path: Array("/outbox/\(recipient)/x".utf8), flags: [.write, .create], attributes: .empty))
        else { throw RulesError.unexpected("no upload") }
        #expect(resume(.done) == .reply(.handle(id: 1, handle: handle)))
        return handle
    }
}

enum RulesError: Error {
    case unexpected(String)
}

extension SessionAction {
    var refusal: SessionRefusal? {
        if case .refuse(let refusal) = self { return refusal }
        return nil
    }
}

@Suite struct SessionRulesTests {
    @Test func everyReadOfADownloadIsRecordedBeforeItsBytesLeave() throws {
        var session = RulesHarness()
        let handle = try session.openDownload(RulesHarness.transfer())
        let bytes = [UInt8](repeating: 7, count: 1000)
        #expect(session.receive(.read(id: 2, handle: handle, offset: 0, length: 1000)) == .readBlob(handle: handle, offset: 0, count: 1000))
        #expect(session.resume(.bytes(bytes)) == .recordServed(transferID: RulesHarness.id, range: 0..<1000), "the store first")
        #expect(session.resume(.done) == .reply(.data(id: 2, data: bytes)), "then the bytes")

        // A record that fails sends nothing.
        #expect(session.receive(.read(id: 3, handle: handle, offset: 1000, length: 500)) == .readBlob(handle: handle, offset: 1000, count: 500))
        #expect(session.resume(.bytes(Array(bytes.prefix(500)))) == .recordServed(transferID: RulesHarness.id, range: 1000..<1500))
        let refused = try #require(session.resume(.failed(.refused(.failure, "the claim was taken over"))).refusal)
        #expect(refused.id == 3 && refused.message == "the claim was taken over")
    }

    @Test func openDownloadsRenewTheirClaimsWhileTheClientWorks() throws {
        var session = RulesHarness()
        _ = try session.openDownload(RulesHarness.transfer())
        #expect(session.rules.dueRenewals(now: RulesHarness.now.addingTimeInterval(5)).isEmpty)
        let later = RulesHarness.now.addingTimeInterval(SessionRules.claimRenewalInterval)
        #expect(session.rules.dueRenewals(now: later) == [.renewClaim(transferID: RulesHarness.id)])
        #expect(session.rules.dueRenewals(now: later).isEmpty, "renewed once")
    }

    @Test func readsAreCutToTheLimitAndTheFile() throws {
        var session = RulesHarness()
        let handle = try session.openDownload(RulesHarness.transfer(size: 300_000))
        #expect(
            session.receive(.read(id: 2, handle: handle, offset: 0, length: .max))
                == .readBlob(handle: handle, offset: 0, count: SessionRules.maximumReadLength))
        _ = session.resume(.failed(.internalError("stop")))
        #expect(session.receive(.read(id: 3, handle: handle, offset: 299_990, length: 100)) == .readBlob(handle: handle, offset: 299_990, count: 10))
        _ = session.resume(.failed(.internalError("stop")))
        #expect(session.receive(.read(id: 4, handle: handle, offset: 300_000, length: 100)) == .reply(.status(id: 4, code: .eof, message: "end of file")))
        #expect(session.receive(.read(id: 5, handle: handle, offset: 0, length: 0)) == .reply(.data(id: 5, data: [])), "as OpenSSH answers it")
    }

    @Test func expiryIsDecidedByTheClockPassedIn() throws {
        var session = RulesHarness()
        let handle = try session.openDownload(RulesHarness.transfer(expires: 60))
        session.now = RulesHarness.now.addingTimeInterval(61)
        let refused = try #require(session.receive(.read(id: 2, handle: handle, offset: 0, length: 10))?.refusal)
        #expect(refused.message.contains("expired"))
        #expect(refused.record.kind == .downloadRefused)
    }

    @Test func aVendorWhoseCertificateNoLongerVerifiesCannotOpenItsInbox() throws {
        var session = RulesHarness()
        session.view.transfers = [RulesHarness.transfer()]
        session.view.valid = ["oldvendor"]
        let refused = try #require(
            session.receive(.open(id: 1, path: Array("/inbox/\(RulesHarness.id).sealdrop".utf8), flags: .read, attributes: .empty))?.refusal)
        #expect(refused.record.kind == .trustRefused, "refused before any claim")
        #expect(refused.code == .permissionDenied)
    }

    @Test func aVendorWhoseCertificateNoLongerVerifiesCannotPublish() throws {
        var session = RulesHarness(vendor: "oldvendor")
        let handle = try session.openUpload()
        session.view.valid = ["newvendor"]
        #expect(session.receive(.close(id: 2, handle: handle)) == .discardUpload(handle: handle))
        let refused = try #require(session.resume(.done).refusal)
        #expect(refused.record.kind == .trustRefused)
        #expect(refused.message.contains("no longer verifies"))
    }

    @Test func aFullDiskRemovesTheUploadAndSaysSo() throws {
        var session = RulesHarness(vendor: "oldvendor")
        let handle = try session.openUpload()
        let data = [UInt8](repeating: 1, count: 32_768)
        #expect(session.receive(.write(id: 2, handle: handle, offset: 0, data: data)) == .reserve(handle: handle, bytes: 32_768))
        #expect(session.resume(.reserved(32_768)) == .writeStaged(handle: handle, offset: 0, data: data))
        #expect(session.resume(.done) == .reply(.status(id: 2, code: .ok, message: "")))
        #expect(session.receive(.write(id: 3, handle: handle, offset: 32_768, data: data)) == .reserve(handle: handle, bytes: 65_536))
        #expect(session.resume(.reserved(1 << 20)) == .writeStaged(handle: handle, offset: 32_768, data: data))
        #expect(session.resume(.failed(.outOfSpace)) == .discardUpload(handle: handle), "the staged upload goes at once")
        let refused = try #require(session.resume(.done).refusal)
        #expect(refused.message == "upload rejected: " + SessionRules.outOfSpace)
        #expect(refused.record.kind == .uploadRejected)
        #expect(!refused.message.contains("truncated"))
        // Pipelined writes already on their way, and the CLOSE, hear the same.
        #expect(session.receive(.write(id: 4, handle: handle, offset: 65_536, data: data))?.refusal?.message == SessionRules.outOfSpace)
        #expect(session.receive(.close(id: 5, handle: handle)) == .discardUpload(handle: handle))
        let closed = try #require(session.resume(.done).refusal)
        #expect(closed.message.contains("out of space") && closed.record.kind == .alreadyRefused)
    }

    @Test func aServerFailureAtCloseStillRemovesTheUpload() throws {
        var session = RulesHarness(vendor: "oldvendor")
        let handle = try session.openUpload()
        #expect(session.receive(.close(id: 2, handle: handle)) == .validateUpload(handle: handle, recipient: "newvendor", size: 0))
        #expect(session.resume(.failed(.internalError("disk error"))) == .discardUpload(handle: handle))
        let refused = try #require(session.resume(.done).refusal)
        #expect(refused.message == SessionRules.serverFailure, "the cause is logged, not told")
        #expect(refused.record.kind == .serverError && refused.record.reason == "disk error")
    }

    @Test func aQuotaRefusalEndsTheUploadAtOnce() throws {
        var session = RulesHarness(vendor: "oldvendor")
        let handle = try session.openUpload()
        #expect(session.receive(.write(id: 2, handle: handle, offset: 0, data: [1])) == .reserve(handle: handle, bytes: 1))
        #expect(session.resume(.failed(.refused(.failure, "over quota"))) == .discardUpload(handle: handle))
        #expect(session.resume(.done).refusal?.message == "upload rejected: over quota")
    }

    func closeValidated(_ session: inout RulesHarness, sha: String) throws -> SessionAction {
        let handle = try session.openUpload()
        #expect(session.receive(.close(id: 2, handle: handle)) == .validateUpload(handle: handle, recipient: "newvendor", size: 0))
        let upload = ValidatedUpload(transferID: RulesHarness.id, size: 300_000, sha256: sha, expiresAt: RulesHarness.now, recipient: "newvendor")
        #expect(session.resume(.validated(upload)) == .discardUpload(handle: handle), "a known id publishes nothing")
        return session.resume(.done)
    }

    @Test func anIdenticalRetryIsAlreadyPublished() throws {
        var session = RulesHarness(vendor: "oldvendor")
        session.view.transfers = [RulesHarness.transfer(sha: "aa")]
        #expect(try closeValidated(&session, sha: "aa") == .reply(.status(id: 2, code: .ok, message: "transfer \(RulesHarness.id) was already published")))
    }

    @Test func anotherFileUnderAUsedIDIsAReplay() throws {
        var session = RulesHarness(vendor: "oldvendor")
        session.view.transfers = [RulesHarness.transfer(sha: "aa")]
        let refused = try #require(try closeValidated(&session, sha: "bb").refusal)
        #expect(refused.message.contains("a replayed envelope is refused"))
        #expect(refused.record == RefusalRecord(kind: .uploadRejected, transferID: RulesHarness.id, reason: refused.record.reason, size: 300_000))
        // Another sender's transfer under that id is a replay too, even with the same bytes.
        var other = RulesHarness(vendor: "oldvendor")
        other.view.transfers = [RulesHarness.transfer(sender: "stranger", sha: "aa")]
        #expect(try closeValidated(&other, sha: "aa").refusal != nil)
    }

    @Test func aRaceLostAtPublishIsDecidedTheSameWay() throws {
        var session = RulesHarness(vendor: "oldvendor")
        let handle = try session.openUpload()
        _ = session.receive(.close(id: 2, handle: handle))
        let upload = ValidatedUpload(transferID: RulesHarness.id, size: 1, sha256: "aa", expiresAt: RulesHarness.now, recipient: "newvendor")
        #expect(session.resume(.validated(upload)) == .publishUpload(handle: handle, upload: upload))
        session.view.transfers = [RulesHarness.transfer(sha: "aa")]
        #expect(session.resume(.duplicate) == .discardUpload(handle: handle))
        #expect(session.resume(.done) == .reply(.status(id: 2, code: .ok, message: "transfer \(RulesHarness.id) was already published")))
    }

    @Test func anotherVendorsTransferLooksAbsentButIsRecorded() throws {
        var stranger = RulesHarness(vendor: "stranger")
        stranger.view.valid.insert("stranger")
        stranger.view.transfers = [RulesHarness.transfer()]
        for path in ["/inbox/\(RulesHarness.id).sealdrop", "/sent/\(RulesHarness.id).sealdrop", "/receipts/\(RulesHarness.id).json"] {
            let refused = try #require(stranger.receive(.stat(id: 1, path: Array(path.utf8)))?.refusal)
            #expect(refused.code == .noSuchFile && refused.message == "no such file or directory", "the same answer as for nothing")
            #expect(refused.record.kind == .notYours && refused.record.transferID == RulesHarness.id, "\(path)")
        }
        let unknown = String(repeating: "ef", count: 16)
        let absent = try #require(stranger.receive(.stat(id: 2, path: Array("/inbox/\(unknown).sealdrop".utf8)))?.refusal)
        #expect(absent.code == .noSuchFile && absent.record.kind == .notFound, "a name that is simply not there is not recorded")
    }

    @Test func vendorAttributesOnlyWhenAskedFor() throws {
        var plain = RulesHarness()
        plain.view.transfers = [RulesHarness.transfer()]
        let path = Array("/inbox/\(RulesHarness.id).sealdrop".utf8)
        guard case .reply(.attributes(_, let bare))? = plain.receive(.stat(id: 1, path: path)) else {
            Issue.record("no attributes")
            return
        }
        #expect(bare.extended.isEmpty, "a client that did not ask gets no extended attributes")

        var asking = RulesHarness(attributes: true)
        asking.view.transfers = [RulesHarness.transfer()]
        guard case .reply(.attributes(_, let rich))? = asking.receive(.stat(id: 1, path: path)) else {
            Issue.record("no attributes")
            return
        }
        let pairs = rich.extended.map { (String(decoding: $0.type, as: UTF8.self), String(decoding: $0.data, as: UTF8.self)) }
        #expect(pairs.map(\.0) == [DropBoxAttributes.sender, DropBoxAttributes.recipient, DropBoxAttributes.state, DropBoxAttributes.expires])
        #expect(pairs.map(\.1) == ["oldvendor", "newvendor", "available", String(Int(RulesHarness.now.timeIntervalSince1970) + 3600)])
        #expect(pairs.allSatisfy { $0.1.utf8.count <= DropBoxAttributes.maximumValueLength })

        // The listing carries the same, for /inbox and /sent alike.
        guard case .reply(.handle(_, let handle))? = asking.receive(.opendir(id: 2, path: Array("/inbox".utf8))),
            case .reply(.name(_, let entries))? = asking.receive(.readdir(id: 3, handle: handle))
        else {
            Issue.record("no listing")
            return
        }
        #expect(entries.last?.attributes.extended.count == 4)
    }

    @Test func theVersionReplyEchoesTheExtensionOnlyWhenAsked() {
        var rules = SessionRules(vendor: "newvendor", key: VendorIdentity.generate(comment: "x").publicKey, startedAt: RulesHarness.now)
        let asked = SFTPExtensionPair(name: DropBoxAttributes.initExtension, data: DropBoxAttributes.initExtensionVersion)
        // limits@openssh.com is announced to everyone.
        let limits = SFTPExtensionPair(name: Array(SFTPServerLimits.name.utf8), data: Array(SFTPServerLimits.version.utf8))
        #expect(
            rules.receive(.initialize(version: 3, extensions: [asked]), now: RulesHarness.now, view: MemoryView())
                == .reply(.version(version: 3, extensions: [limits, asked])))
        let other = SFTPExtensionPair(name: DropBoxAttributes.initExtension, data: "2")
        #expect(
            rules.receive(.initialize(version: 3, extensions: [other]), now: RulesHarness.now, view: MemoryView())
                == .reply(.version(version: 3, extensions: [limits])))
    }

    @Test func scatteredReadsStayBoundedAndTheFileStaysReadable() throws {
        // One slot short of the limit, in pieces that do not start at 0.
        let limit = SessionRules.maximumServedRanges
        let pieces = ServedRanges((1..<limit).map { UInt64($0 * 10)..<UInt64($0 * 10 + 1) })
        #expect(pieces.ranges.count == limit - 1)
        #expect(throws: Refusal.self) { try SessionRules.checkScatter(pieces, adding: 100_000..<100_001, transferID: "t") }
        // Reading from the start (a resume) always passes, and so does filling a gap.
        try SessionRules.checkScatter(pieces, adding: 0..<5, transferID: "t")
        try SessionRules.checkScatter(pieces, adding: 11..<20, transferID: "t")

        // A handle scattered by its own reads, one slot short of the limit.
        var session = RulesHarness()
        let handle = try session.openDownload(RulesHarness.transfer(size: 1 << 20))
        for (index, piece) in pieces.ranges.enumerated() {
            let id = UInt32(100 + index)
            #expect(session.receive(.read(id: id, handle: handle, offset: piece.lowerBound, length: 1)) != nil)
            _ = session.resume(.bytes([0]))
            #expect(session.resume(.done) == .reply(.data(id: id, data: [0])))
        }
        let refused = try #require(session.receive(.read(id: 2, handle: handle, offset: 500_000, length: 1))?.refusal)
        #expect(refused.message.contains("too scattered") && refused.record.kind == .limitReached)
        #expect(session.receive(.read(id: 3, handle: handle, offset: 0, length: 32_768)) == .readBlob(handle: handle, offset: 0, count: 32_768))
    }

    @Test func aStatementCannotBeWrittenPastItsLimitWhateverTheOffset() throws {
        var session = RulesHarness()
        session.view.transfers = [RulesHarness.transfer()]
        guard
            case .reply(.handle(_, let handle))? = session.receive(
                .open(id: 1, path: Array("/receipts/\(RulesHarness.id).ack".utf8), flags: [.write, .create], attributes: .empty))
        else {
            Issue.record("no handle")
            return
        }
        for offset: UInt64 in [1, 1 << 31, 1 << 32, UInt64(Int64.max), .max, UInt64(Int64.max) - 10] {
            #expect(session.receive(.write(id: 2, handle: handle, offset: offset, data: [1, 2, 3]))?.refusal?.code == .failure)
        }
        #expect(session.receive(.write(id: 3, handle: handle, offset: 0, data: [1, 2, 3])) == .reply(.status(id: 3, code: .ok, message: "")))
    }

    @Test func theSessionEndsByDiscardingUploadsAndFinishingDownloads() throws {
        var session = RulesHarness()
        let download = try session.openDownload(RulesHarness.transfer(size: 10))
        _ = session.receive(.read(id: 2, handle: download, offset: 0, length: 10))
        _ = session.resume(.bytes([UInt8](repeating: 0, count: 10)))
        _ = session.resume(.done)
        let upload = try session.openUpload(to: "oldvendor")
        let actions = session.rules.end()
        #expect(
            actions.contains(.finishDownload(handle: download, transferID: RulesHarness.id, closed: false)),
            "lost without CLOSE: every byte went out, but none counts")
        #expect(actions.contains(.discardUpload(handle: upload)))
        #expect(session.rules.handles.isEmpty)
    }
}
