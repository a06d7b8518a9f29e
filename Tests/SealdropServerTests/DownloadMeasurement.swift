import Foundation
@testable import SealdropServer
import SealdropSFTP
import SealdropStore
import Testing
import TestSupport

/// Figures, not assertions: how long a whole download takes in-process and
/// what one served-range write to the store costs. Runs only when
/// SEALDROP_MEASURE=1, since timings say nothing on a loaded machine.
@Suite struct DownloadMeasurement {
    static let enabled = ProcessInfo.processInfo.environment["SEALDROP_MEASURE"] == "1"

    @Test(.enabled(if: enabled)) func downloadThroughputAndServedRecordCost() throws {
        let world = try DropBoxWorld()
        let size = 256 << 20
        let envelope = try world.envelope(size)
        guard case .status(_, .ok, _) = world.upload(envelope, as: try world.session("oldvendor")) else {
            Issue.record("upload refused")
            return
        }
        let session = try world.session("newvendor")
        let name = try #require(world.inboxIDs(session).first)
        guard case .handle(_, let handle) = session.handle(.open(id: 1, path: Array("/inbox/\(name)".utf8), flags: .read, attributes: .empty)).first
        else {
            Issue.record("open refused")
            return
        }
        let start = Date()
        var offset: UInt64 = 0
        var reads = 0
        while case .data(_, let data) = session.handle(.read(id: 2, handle: handle, offset: offset, length: 32_768)).first {
            offset += UInt64(data.count)
            reads += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        _ = session.handle(.close(id: 3, handle: handle))
        print(
            "measure: downloaded \(offset) bytes in \(reads) reads of 32 KiB: \(String(format: "%.2f", elapsed)) s, \(String(format: "%.1f", Double(offset) / elapsed / 1e6)) MB/s"
        )

        // One served-range write on its own, on a fresh claim.
        #expect(Self.isOK(world.upload(try world.envelope(1 << 20), as: try world.session("oldvendor"))))
        let other = try world.session("newvendor")
        let id = String(try #require(world.inboxIDs(other).first).dropLast(9))
        _ = try world.dropBox.store.claim(
            id: id, recipient: "newvendor", session: "measure", now: Date(),
            event: TransferEvent(time: Date(), kind: .claimed, actor: "newvendor", sourceAddress: "test", transferID: id))
        let calls = 2000
        let begin = Date()
        for index in 0..<calls {
            try world.dropBox.store.recordServed(id: id, session: "measure", ranges: ServedRanges([UInt64(index * 500)..<UInt64(index * 500 + 500)]))
        }
        let perCall = Date().timeIntervalSince(begin) / Double(calls)
        print("measure: recordServed \(String(format: "%.1f", perCall * 1e6)) µs per call over \(calls) calls")
    }

    static func isOK(_ message: SFTPMessage) -> Bool {
        if case .status(_, .ok, _) = message { return true }
        return false
    }
}

/// The same over the wire: a real `sealdropd` and OpenSSH's `sftp get`.
@Suite struct ServerDownloadMeasurement {
    @Test(.enabled(if: DownloadMeasurement.enabled)) func sftpGetOf256MiB() throws {
        let server = try ServerFixture()
        let envelope = try server.seal(Fixtures.bytes(256 << 20, seed: 3), name: "big")
        #expect(try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        let listing = try server.sftp("newvendor", ["ls /inbox"])
        let name = try #require(
            listing.output.split(whereSeparator: \.isWhitespace).compactMap { $0.split(separator: "/").last.map(String.init) }
                .first { $0.hasSuffix(".sealdrop") })
        let start = Date()
        let got = try server.sftp("newvendor", ["get /inbox/\(name) received.sealdrop"])
        let elapsed = Date().timeIntervalSince(start)
        #expect(got.status == 0, "\(got.standardError)")
        let size = try server.directory.read("received.sealdrop").count
        print(
            "measure: sftp get of \(size) bytes from a real server: \(String(format: "%.2f", elapsed)) s, \(String(format: "%.1f", Double(size) / elapsed / 1e6)) MB/s"
        )
    }
}
