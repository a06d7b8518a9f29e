import Foundation
import SealdropKeys
import SealdropServer
import SealdropStorePostgres
import SealdropTrust
import Testing
import TestSupport

/// `sealdropd authorized-keys`: what sshd may accept is exactly what the
/// certificates say, now.
@Suite struct AuthorizedKeysCommandTests {
    static func line(_ directory: TemporaryDirectory, _ vendor: String) throws -> String {
        var key = try VendorPublicKey.load(path: directory.file(vendor + ".pub")).ssh
        key.comment = "sealdrop:" + vendor
        return "restrict " + key.authorizedKeyLine
    }

    @Test func listsTheCertifiedKeyAndNothingForRevokedOrUnknownVendors() throws {
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        func keys(_ arguments: [String]) throws -> ProcessResult {
            try Subprocess.run(
                Fixtures.sealdropd, ["authorized-keys", "--data", directory.file("data"), "--trust", directory.file("ca/trust")] + arguments,
                directory: directory.path)
        }
        let one = try keys(["newvendor"])
        #expect(one.status == 0, "\(one.standardError)")
        #expect(one.output == (try Self.line(directory, "newvendor")) + "\n")
        for refused in ["formervendor", "nobody", "../newvendor", "root", "-"] {
            let result = try keys(["--", refused])
            #expect(result.status == 0 && result.output.isEmpty, "\(refused): \(result.output)")
        }
        // The shared account lists every vendor whose certificate verifies.
        let all = try keys(["--shared-account", "sealdrop", "sealdrop"])
        let expected = try ["newvendor", "oldvendor", "stranger"].map { try Self.line(directory, $0) }
        #expect(all.output.split(separator: "\n").map(String.init).sorted() == expected.sorted(), "\(all.output)")

        // A trust store that does not verify lets nobody in.
        try FileManager.default.removeItem(atPath: directory.file("ca/trust/revocations.crl"))
        let broken = try keys(["--shared-account", "sealdrop", "sealdrop"])
        #expect(broken.status == 1 && broken.output.isEmpty)
        #expect(broken.standardError.contains("no keys"), "\(broken.standardError)")
    }

    /// An expired certificate lists nothing, by name or for the shared account.
    @Test func anExpiredCertificateListsNothing() throws {
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        let trust = try TrustStore.load(directory: directory.file("ca/trust"))
        let now = Date()
        #expect(DropBox.authorizedKeyLines(user: "newvendor", sharedAccount: nil, trust: trust, now: now).count == 1)
        let later = now.addingTimeInterval(400 * 86_400)
        #expect(DropBox.authorizedKeyLines(user: "newvendor", sharedAccount: nil, trust: trust, now: later).isEmpty)
        #expect(DropBox.authorizedKeyLines(user: "sealdrop", sharedAccount: "sealdrop", trust: trust, now: later).isEmpty)
    }

    /// With `database = postgres://...` the nodes keep the revocation floor
    /// in the database and never write the data directory's file: a floor
    /// above the published list there must lock everyone out, as it does
    /// for the nodes themselves.
    @Test(.enabled(if: PostgresServerTests.url != nil || PostgresServerTests.required))
    func aSharedDatabasesFloorIsTheOneRead() throws {
        let url = try #require(PostgresServerTests.url, "SEALDROP_TEST_POSTGRES_URL is not set but PostgreSQL tests are required")
        let schema = "ak_" + (0..<12).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
        let database = url + (url.contains("?") ? "&" : "?") + "schema=" + schema
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        func keys(_ extra: [String]) throws -> ProcessResult {
            try Subprocess.run(
                Fixtures.sealdropd, ["authorized-keys", "--data", directory.file("data"), "--trust", directory.file("ca/trust")] + extra + ["newvendor"],
                directory: directory.path)
        }
        let expected = try Self.line(directory, "newvendor") + "\n"
        let store = try PostgresTransferStore(settings: PostgresSettings(url: database))
        let listed = try keys(["--database", database])
        #expect(listed.status == 0 && listed.output == expected, "\(listed.standardError)")

        // Another node saw a newer list than the one published here.
        try store.raiseRevocationFloor(to: 1_000_000)
        store.close()
        let refused = try keys(["--database", database])
        #expect(refused.status == 1 && refused.output.isEmpty, "\(refused.output)")
        #expect(refused.standardError.contains("no keys"), "\(refused.standardError)")
        // The data directory's file knows nothing of it: read alone, it would let the vendor in.
        #expect(try keys([]).output == expected)
    }
}
