import Foundation
import Testing
import TestSupport

/// `sealdropd serve` with `database = postgres://...`: a whole send and
/// receive through the real server, the metadata in PostgreSQL. Runs when
/// `SEALDROP_TEST_POSTGRES_URL` is set (ops/test sets it and requires it).
@Suite(.serialized) struct PostgresServerTests {
    static let url = ProcessInfo.processInfo.environment["SEALDROP_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = ProcessInfo.processInfo.environment["SEALDROP_REQUIRE_POSTGRES"] == "1"

    @Test(.enabled(if: url != nil || required)) func aTransferThroughAServerOnPostgresIsDeliveredOnce() throws {
        let url = try #require(Self.url, "SEALDROP_TEST_POSTGRES_URL is not set but PostgreSQL tests are required")
        let schema = "srv_" + (0..<12).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
        let database = url + (url.contains("?") ? "&" : "?") + "schema=" + schema
        // A shared database never makes keys: a first start on SQLite makes them.
        let bootstrap = try ServerFixture()
        bootstrap.stop()
        let server = try ServerFixture(settings: ["database = \(database)"], reusing: bootstrap.directory)
        let environment = try ClientIntegrationTests.profiles(server)
        let plaintext = Fixtures.bytes(300_000, seed: 5)
        _ = try server.directory.write(plaintext, to: "report")
        let sent = try ClientIntegrationTests.run(server, environment, ["send", "report", "--to", "newvendor", "--profile", "oldvendor", "--quiet"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let id = try #require(try ClientIntegrationTests.inboxIDs(server, environment).first)
        let received = try ClientIntegrationTests.run(server, environment, ["receive", id, "-o", "report.out", "--profile", "newvendor"])
        #expect(received.status == 0, "\(received.standardError)")
        #expect(try server.directory.read("report.out") == plaintext)
        #expect(server.entries("blobs").isEmpty, "the blob is deleted at delivery")
        let again = try ClientIntegrationTests.run(server, environment, ["receive", id, "-o", "again.out", "--profile", "newvendor"])
        #expect(again.status != 0, "a second download is refused")
        let status = try ClientIntegrationTests.run(server, environment, ["status", "--profile", "oldvendor"])
        #expect(status.output.contains("\(id)  delivered"), "\(status.output)")

        // The metadata went to PostgreSQL: the log there names the transfer.
        let psql = Subprocess.which("psql") ?? "/usr/bin/psql"
        let rows = try Subprocess.run(psql, [url, "-Atc", "SELECT kind FROM \(schema).event WHERE transfer_id = '\(id)' ORDER BY sequence"])
        #expect(rows.status == 0, "\(rows.standardError)")
        #expect(rows.output.split(separator: "\n").map(String.init).contains("delivered"), "\(rows.output)")
    }

    @Test func aSharedDatabaseWithoutKeysIsRefused() throws {
        let directory = try TemporaryDirectory()
        let result = try Subprocess.run(
            Fixtures.sealdropd,
            ["serve", "--data", directory.file("data"), "--listen", "127.0.0.1:0", "--database", "postgres://sealdrop@127.0.0.1:1/postgres"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("none is made automatically"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("data/ssh_host_ed25519_key")))
    }
}
