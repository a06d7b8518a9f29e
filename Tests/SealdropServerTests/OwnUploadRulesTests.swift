import Foundation
import SealdropKeys
@testable import SealdropServer
import SealdropSFTP
import Testing

/// What third-party clients need of the rules: their own upload visible to
/// STAT while open and after publication, RENAME of it within its folder,
/// and `limits@openssh.com` with 255 KiB reads. Nothing else becomes visible.
@Suite struct OwnUploadRulesTests {
    static let path = Array("/outbox/newvendor/x".utf8)

    /// Opens /outbox/newvendor/x, writes `size` bytes, closes and publishes it.
    func publish(_ session: inout RulesHarness, size: Int) throws -> [UInt8] {
        let handle = try session.openUpload()
        if size > 0 {
            #expect(
                session.receive(.write(id: 2, handle: handle, offset: 0, data: [UInt8](repeating: 1, count: size)))
                    == .reserve(handle: handle, bytes: UInt64(size)))
            #expect(session.resume(.reserved(UInt64(size))) == .writeStaged(handle: handle, offset: 0, data: [UInt8](repeating: 1, count: size)))
            #expect(session.resume(.done) == .reply(.status(id: 2, code: .ok, message: "")))
        }
        #expect(
            session.receive(.stat(id: 3, path: Self.path))
                == .reply(.attributes(id: 3, attributes: SFTPAttributes(size: UInt64(size), permissions: SessionRules.uploadMode))), "visible while open")
        #expect(session.receive(.close(id: 4, handle: handle)) == .validateUpload(handle: handle, recipient: "newvendor", size: UInt64(size)))
        let upload = ValidatedUpload(transferID: RulesHarness.id, size: UInt64(size), sha256: "aa", expiresAt: RulesHarness.now, recipient: "newvendor")
        #expect(session.resume(.validated(upload)) == .publishUpload(handle: handle, upload: upload))
        #expect(session.resume(.published) == .reply(.status(id: 4, code: .ok, message: "published transfer \(RulesHarness.id)")))
        return handle
    }

    @Test func theSessionsOwnUploadIsVisibleToItselfOnly() throws {
        var session = RulesHarness(vendor: "oldvendor")
        #expect(session.receive(.lstat(id: 1, path: Self.path))?.refusal?.code == .noSuchFile, "nothing before the upload")
        _ = try publish(&session, size: 5)
        let seen = SFTPAttributes(size: 5, permissions: SessionRules.uploadMode)
        #expect(session.receive(.stat(id: 5, path: Self.path)) == .reply(.attributes(id: 5, attributes: seen)), "visible after publication")
        #expect(session.receive(.lstat(id: 6, path: Self.path)) == .reply(.attributes(id: 6, attributes: seen)))
        #expect(session.receive(.stat(id: 7, path: Array("/outbox/newvendor/y".utf8)))?.refusal?.code == .noSuchFile, "other names stay hidden")

        // Another session of the same vendor, and the recipient, see nothing.
        var other = RulesHarness(vendor: "oldvendor")
        #expect(other.receive(.stat(id: 1, path: Self.path))?.refusal?.code == .noSuchFile)
        var recipient = RulesHarness(vendor: "newvendor")
        #expect(recipient.receive(.stat(id: 1, path: Array("/outbox/oldvendor/x".utf8)))?.refusal?.code == .noSuchFile)
        // The session's end forgets it.
        _ = session.rules.end()
        #expect(session.receive(.stat(id: 8, path: Self.path))?.refusal?.code == .noSuchFile)
    }

    @Test func aRejectedUploadIsForgotten() throws {
        var session = RulesHarness(vendor: "oldvendor")
        let handle = try session.openUpload()
        #expect(session.receive(.close(id: 2, handle: handle)) == .validateUpload(handle: handle, recipient: "newvendor", size: 0))
        #expect(session.resume(.failed(.rejected("not an envelope"))) == .discardUpload(handle: handle))
        #expect(session.resume(.done).refusal != nil)
        #expect(session.receive(.stat(id: 3, path: Self.path))?.refusal?.code == .noSuchFile)
    }

    @Test func renameChangesOnlyTheSessionsOwnUploadsName() throws {
        var session = RulesHarness(vendor: "oldvendor")
        // Nobody's upload: no such file, whatever the target.
        #expect(session.receive(.rename(id: 1, from: Self.path, to: Array("/outbox/newvendor/z".utf8)))?.refusal?.code == .noSuchFile)
        _ = try publish(&session, size: 3)
        // Out of its folder: refused, nothing changes.
        for target in ["/outbox/stranger/z", "/inbox/z", "/sent/z", "/../etc/z"] {
            let refused = session.receive(.rename(id: 2, from: Self.path, to: Array(target.utf8)))?.refusal
            #expect(refused?.code == .permissionDenied, "\(target)")
        }
        #expect(
            session.receive(.rename(id: 3, from: Self.path, to: Array("/outbox/newvendor/final.sealdrop".utf8)))
                == .reply(.status(id: 3, code: .ok, message: "")))
        #expect(session.receive(.stat(id: 4, path: Self.path))?.refusal?.code == .noSuchFile)
        #expect(session.receive(.stat(id: 5, path: Array("/outbox/newvendor/final.sealdrop".utf8)))?.refusal == nil)
        // Renaming onto another of its uploads is refused.
        _ = try publish(&session, size: 3)
        #expect(session.receive(.rename(id: 6, from: Self.path, to: Array("/outbox/newvendor/final.sealdrop".utf8)))?.refusal?.code == .failure)
        // Other places keep their fixed tree.
        #expect(session.receive(.rename(id: 7, from: Array("/inbox".utf8), to: Array("/x".utf8)))?.refusal?.code == .permissionDenied)
    }

    @Test func theLimitsExtensionIsAnnouncedAndAnswered() throws {
        var rules = SessionRules(vendor: "newvendor", key: VendorIdentity.generate(comment: "x").publicKey, startedAt: RulesHarness.now)
        guard case .reply(.version(_, let extensions))? = rules.receive(.initialize(version: 3, extensions: []), now: RulesHarness.now, view: MemoryView())
        else {
            Issue.record("no VERSION")
            return
        }
        #expect(extensions.contains(SFTPExtensionPair(name: Array("limits@openssh.com".utf8), data: Array("1".utf8))))
        guard
            case .reply(.extendedReply(9, let data))? = rules.receive(
                .extended(id: 9, request: Array("limits@openssh.com".utf8), data: []), now: RulesHarness.now, view: MemoryView())
        else {
            Issue.record("no EXTENDED_REPLY")
            return
        }
        let limits = try SFTPServerLimits.decode(data)
        // OpenSSH's sftp-server's figures: 256 KiB packets, 255 KiB reads and writes.
        #expect(
            limits
                == SFTPServerLimits(
                    maximumPacketLength: 262_144, maximumReadLength: 261_120, maximumWriteLength: 261_120,
                    maximumOpenHandles: UInt64(SessionRules.maximumHandles)))
        let other = rules.receive(.extended(id: 10, request: Array("posix-rename@openssh.com".utf8), data: []), now: RulesHarness.now, view: MemoryView())
        #expect(other?.refusal?.code == .operationUnsupported)
    }

    @Test func aReadOfWhatOpenSSHServesIsServedWhole() throws {
        var session = RulesHarness()
        let handle = try session.openDownload(RulesHarness.transfer(size: 1_000_000))
        #expect(session.receive(.read(id: 2, handle: handle, offset: 0, length: 261_120)) == .readBlob(handle: handle, offset: 0, count: 261_120))
        // The DATA reply fits the packet limit the client enforces.
        let reply = SFTPMessage.data(id: 2, data: [UInt8](repeating: 0, count: SessionRules.maximumReadLength)).encode()
        #expect(reply.count - 4 <= SFTPLimits.maximumPacketLength)
    }
}
