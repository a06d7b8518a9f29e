import Foundation
import SealdropStore
import Testing
import TestSupport

/// `sealdropd sftp-subsystem` processes share one store: leases and the
/// per-READ record keep single download across them.
@Suite struct SubsystemLeaseTests {
    /// Subsystem sessions are separate processes sharing one store: a
    /// handle whose process was killed ends uncounted once its lease lapses,
    /// even if every byte went out, and the transfer is delivered only by a
    /// download that CLOSEs, never served after that.
    @Test(arguments: [false, true])
    func aKilledSubsystemSessionsDownloadIsServedAgainAfterItsLease(_ everyByte: Bool) throws {
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
        // The lease runs from the last READ: it lapses at the latest at `readEnded` + 3 s.
        let served = try first.read(handle, limit: everyByte ? .max : 50_000)
        let readEnded = Date()
        #expect(served == Array(envelope.prefix(served.count)))
        first.kill()

        // Another process of the recipient joins the claim at once (a
        // multi-connection client); it is killed too, having read nothing.
        let second = try session("newvendor")
        let joined = try second.exchange(.open(id: 9, path: Array("/inbox/\(id).sealdrop".utf8), flags: .read, attributes: .empty))
        guard case .handle = joined else {
            Issue.record("the recipient's second process was refused: \(joined)")
            return
        }
        let joinedAt = Date()
        second.kill()
        // Both handles are held until their leases lapse (no process is left to say they were lost).
        Thread.sleep(forTimeInterval: max(0, 3.5 - Date().timeIntervalSince(max(readEnded, joinedAt))))

        let third = try session("newvendor")
        // Killed without CLOSE: whatever went out (every byte, or part) does
        // not count, so the recipient downloads it again, whole.
        #expect(!(try store.events().contains { $0.transferID == id && $0.kind == .delivered }), "a killed handle delivered nothing")
        let resumed = try third.openForReading("/inbox/\(id).sealdrop")
        #expect(try third.read(resumed) == envelope)
        #expect(try third.exchange(.close(id: 11, handle: resumed)) == .status(id: 11, code: .ok, message: "delivered"))
        #expect(try store.transfer(id: id)?.state == .delivered)
        let again = try third.exchange(.open(id: 12, path: Array("/inbox/\(id).sealdrop".utf8), flags: .read, attributes: .empty))
        guard case .status = again else {
            Issue.record("a delivered transfer opened again: \(again)")
            return
        }
        third.kill()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("data/blobs")).isEmpty)
    }
}
