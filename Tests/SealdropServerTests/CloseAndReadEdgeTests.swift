import Foundation
@testable import SealdropServer
import SealdropSFTP
import SealdropStore
import Testing

/// A database failure while an upload is closed, and READs of 0 bytes.
@Suite struct CloseAndReadEdgeTests {
    static let upload = ValidatedUpload(transferID: RulesHarness.id, size: 1, sha256: "aa", expiresAt: RulesHarness.now, recipient: "newvendor")

    @Test func aLookupFailureAtCloseDiscardsTheUploadAtOnce() throws {
        var session = RulesHarness(vendor: "oldvendor")
        let handle = try session.openUpload()
        #expect(session.receive(.close(id: 2, handle: handle)) == .validateUpload(handle: handle, recipient: "newvendor", size: 0))
        session.view.failingLookups = true
        // The staged file and its reservation go now, not when the session ends.
        #expect(session.resume(.validated(Self.upload)) == .discardUpload(handle: handle))
        let refused = try #require(session.resume(.done).refusal)
        #expect(refused.id == 2 && refused.message == SessionRules.serverFailure)
        #expect(refused.record.kind == .serverError && refused.record.reason.contains("the metadata database failed"))
        #expect(session.rules.end().isEmpty, "nothing is left for the end of the session")
    }

    @Test func aDuplicateWithNoReadableRowDiscardsTheUploadAtOnce() throws {
        for failing in [false, true] {
            var session = RulesHarness(vendor: "oldvendor")
            let handle = try session.openUpload()
            _ = session.receive(.close(id: 2, handle: handle))
            #expect(session.resume(.validated(Self.upload)) == .publishUpload(handle: handle, upload: Self.upload))
            // The store said duplicate, but the row is gone (or cannot be read).
            session.view.failingLookups = failing
            #expect(session.resume(.duplicate) == .discardUpload(handle: handle), "lookup failing: \(failing)")
            let refused = try #require(session.resume(.done).refusal)
            #expect(refused.message == SessionRules.serverFailure && refused.record.kind == .serverError)
        }
    }

    @Test func aReadOfNoBytesIsAnsweredAsOpenSSHDoes() throws {
        // OpenSSH 9.2's sftp-server: empty DATA, at any offset, end of file or past it.
        var session = RulesHarness()
        let download = try session.openDownload(RulesHarness.transfer(size: 1000))
        for offset: UInt64 in [0, 500, 1000, 5000, .max] {
            #expect(session.receive(.read(id: 5, handle: download, offset: offset, length: 0)) == .reply(.data(id: 5, data: [])), "offset \(offset)")
        }
        // Nothing was read from disk or recorded: the next real READ starts the served ranges.
        #expect(session.receive(.read(id: 6, handle: download, offset: 0, length: 10)) == .readBlob(handle: download, offset: 0, count: 10))
        _ = session.resume(.bytes([UInt8](repeating: 1, count: 10)))
        _ = session.resume(.done)
        guard case .reply(.handle(_, let listing))? = session.receive(.opendir(id: 7, path: Array("/".utf8))) else {
            Issue.record("no listing handle")
            return
        }
        let refused = try #require(session.receive(.read(id: 8, handle: listing, offset: 0, length: 0))?.refusal)
        #expect(refused.code == .permissionDenied, "a directory handle is still not readable")
        let upload = try session.openUpload(to: "oldvendor")
        #expect(session.receive(.read(id: 9, handle: upload, offset: 0, length: 0))?.refusal != nil, "nor is an upload")
    }
}
