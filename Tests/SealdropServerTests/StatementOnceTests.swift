import Foundation
import SealdropStore
import Testing
import TestSupport

@testable import SealdropServer

/// A signed statement is one log entry per kind and transfer: uploading it
/// again is refused with a clear message, and the log does not grow.
@Suite struct StatementOnceTests {
    @Test func anAcknowledgmentOrDeclarationUploadedAgainIsRefused() throws {
        let server = try ServerFixture()
        let environment = try ClientIntegrationTests.profiles(server)
        _ = try server.directory.write(Fixtures.bytes(5_000), to: "x")
        let sent = try ClientIntegrationTests.run(
            server, environment, ["send", "x", "--to", "newvendor", "--purpose", "invoices", "--profile", "oldvendor"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let id = try #require(try ClientIntegrationTests.inboxIDs(server, environment).first)
        let received = try ClientIntegrationTests.run(server, environment, ["receive", id, "-o", "x.out", "--profile", "newvendor"])
        #expect(received.status == 0 && received.standardError.contains("acknowledged"), "\(received.standardError)")

        let store = try SQLiteTransferStore(path: server.data + "/metadata.sqlite")
        let ack = try #require(try store.events().first { $0.kind == .acknowledged && $0.transferID == id })
        let declaration = try #require(try store.events().first { $0.kind == .declared && $0.transferID == id })
        // The very statements the drop box accepted, signed by their vendors: valid, but already recorded.
        _ = try server.directory.write(Array(ack.detail.utf8), to: "again.ack")
        _ = try server.directory.write(Array(declaration.detail.utf8), to: "again.declaration")
        for _ in 0..<3 {
            // OpenSSH's sftp shows only "Failure" for a refused CLOSE; the reason is in the record.
            #expect(try server.sftp("newvendor", ["put again.ack /receipts/\(id).ack"]).status != 0)
            #expect(try server.sftp("oldvendor", ["put again.declaration /receipts/\(id).declaration"]).status != 0)
        }
        _ = server.log()
        let events = try store.events()
        #expect(events.filter { $0.kind == .acknowledged }.count == 1)
        #expect(events.filter { $0.kind == .declared }.count == 1)
        // Aggregated per source and kind: the first is recorded with its reason, the rest as a count.
        let refusals = events.filter { $0.kind == .refusedOperation }
        #expect(refusals.count <= 2, "\(refusals.map(\.detail))")
        #expect(refusals.first?.detail.contains("already has your acknowledgment in the log") == true, "\(refusals.map(\.detail))")
        #expect(refusals.reduce(0) { $0 + Int($1.count ?? 1) } == 6, "all six refusals are counted")
    }
}

/// Two processes (or nodes) on one database: both find no statement, both
/// record; the database keeps the first and the second is told so.
@Suite struct StatementRaceTests {
    @Test func aStatementAnotherProcessRecordedFirstIsRefusedNotDoubled() throws {
        let directory = try TemporaryDirectory()
        let made = try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop])
        guard made.status == 0 else { throw FixtureError.setup(made.standardError) }
        let dropBox = try DropBox(
            configuration: DropBoxConfiguration(dataDirectory: directory.file("data"), trustDirectory: directory.file("ca/trust")))
        let otherProcess = try SQLiteTransferStore(path: directory.file("data/metadata.sqlite"))
        let declaration = TransferEvent(
            time: Date(), kind: .declared, actor: "oldvendor", sourceAddress: "127.0.0.1", transferID: String(repeating: "a", count: 32))

        let fresh = try dropBox.recordStatementOnce(declaration) { () throws(StoreError) in
            // The other process records between this one's check and its write.
            try otherProcess.record(declaration)
            try dropBox.recordOrFail(declaration)
        }
        #expect(!fresh, "told it is already recorded")
        #expect(try otherProcess.events().filter { $0.kind == .declared }.count == 1)
        #expect(try !dropBox.recordStatementOnce(declaration) { () throws(StoreError) in Issue.record("checked before writing") })
    }
}
