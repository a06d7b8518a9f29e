import Foundation
import SealdropStore
import Testing
import TestSupport

/// `sealdropd sftp-subsystem` processes share one store: leases and the
/// per-READ record keep single download across them.
@Suite struct SubsystemLeaseTests {
    /// Subsystem sessions are separate processes sharing one store: the
    /// lease is what frees a download whose process was killed, and a
    /// download whose every byte went out is delivered, never served again.
    @Test(arguments: [false, true])
    func aKilledSubsystemSessionsDownloadIsResumedOrDeliveredAfterItsLease(_ everyByte: Bool) throws {
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        let trust = directory.file("ca/trust")
        let config = try directory.write(Array("claim-lease = 3s\n".utf8), to: "sealdropd.conf")
        _ = try directory.write(Fixtures.bytes(200_000, seed: 5), to: "x.plain")
        let sealed = try Subprocess.run(
            Fixtures.sealdrop, ["seal", "x.plain", "-o", "x.sealdrop", "--to", "newvendor", "--identity", "oldvendor"],
            environment: ["SEALDROP_TRUST": trust], directory: directory.path)
        #expect(sealed.status == 0, "\(sealed.standardError)")
        let envelope = try directory.read("x.sealdrop")
        func session(_ vendor: String) throws -> RawSFTPClient {
            try RawSFTPClient(
                Fixtures.sealdropd,
                ["sftp-subsystem", "--vendor", vendor, "--config", config, "--data", directory.file("data"), "--trust", trust],
                directory: directory.path)
        }
        let upload = try Subprocess.run(
            Subprocess.which("sftp")!,
            ["-D", "\(Fixtures.sealdropd) sftp-subsystem --vendor oldvendor --data \(directory.file("data")) --trust \(trust)", "-b", "-"],
            input: Array("put x.sealdrop /outbox/newvendor/\n".utf8), directory: directory.path)
        #expect(upload.status == 0, "\(upload.standardError)")
        let store = try SQLiteTransferStore(path: directory.file("data/metadata.sqlite"))
        let id = try #require(try store.inbox(recipient: "newvendor").first?.id)

        let first = try session("newvendor")
        let handle = try first.openForReading("/inbox/\(id).sealdrop")
        // The lease runs from the last READ: it holds at least until
        // `readStarted` + 3 s and lapses at the latest at `readEnded` + 3 s.
        let readStarted = Date()
        let served = try first.read(handle, limit: everyByte ? .max : 50_000)
        let readEnded = Date()
        #expect(served == Array(envelope.prefix(served.count)))
        first.kill()

        let second = try session("newvendor")
        let refused = try second.exchange(.open(id: 9, path: Array("/inbox/\(id).sealdrop".utf8), flags: .read, attributes: .empty))
        if Date() < readStarted.addingTimeInterval(3) {
            guard case .status(_, let code, _) = refused else {
                Issue.record("a second process opened a download held by a live lease: \(refused)")
                return
            }
            #expect(code != .ok)
        }
        second.kill()
        Thread.sleep(forTimeInterval: max(0, 3.5 - Date().timeIntervalSince(readEnded)))

        let third = try session("newvendor")
        if everyByte {
            // Starting, the third process's sweep settled the lapsed, fully served claim.
            #expect(try store.transfer(id: id)?.state == .delivered)
            #expect(Array(try store.events().filter { $0.transferID == id }.map(\.kind).suffix(2)) == [.delivered, .deleted])
            let again = try third.exchange(.open(id: 10, path: Array("/inbox/\(id).sealdrop".utf8), flags: .read, attributes: .empty))
            guard case .status = again else {
                Issue.record("a delivered transfer opened again: \(again)")
                return
            }
        } else {
            let resumed = try third.openForReading("/inbox/\(id).sealdrop")
            #expect(try third.read(resumed) == envelope)
            #expect(try third.exchange(.close(id: 11, handle: resumed)) == .status(id: 11, code: .ok, message: "delivered"))
            #expect(try store.transfer(id: id)?.state == .delivered)
        }
        third.kill()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("data/blobs")).isEmpty)
    }
}
