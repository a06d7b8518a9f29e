import Foundation
import SealdropKeys
import SealdropServer
@testable import SealdropTrust
import Testing
import TestSupport

/// R2 through the real logins: a key certified under two names (one of
/// them another vendor's public key, certified without proof of
/// possession) logs in as nobody, in `serve`, behind sshd and in
/// `authorized-keys`; a key revoked under one name is refused under all.
@Suite struct KeyOwnershipLoginTests {
    /// The example certificates plus a certificate the CA signed for
    /// `name` with `owner`'s key: made by a CA that lost its records (the
    /// CA command now refuses it), then filed in the trust store.
    static func certificates(duplicate name: String, of owner: String, revokeOwner: RevocationList.Reason? = nil) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let made = try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop])
        try #require(made.status == 0, "\(made.standardError)")
        var authority = try CertificateAuthority.load(directory: directory.file("ca"), passphrase: .none)
        if let revokeOwner { _ = try authority.revoke(owner, reason: revokeOwner) }
        let records = authority.state.issued
        authority.state.issued = []
        try authority.issue(name: try VendorName(name), subjectKey: try VendorPublicKey.load(path: directory.file(owner + ".pub")), role: .vendor, days: 30)
        authority.state.issued = records + authority.state.issued
        try authority.publishRevocationList()
        return directory
    }

    func authorizedKeys(_ directory: TemporaryDirectory, _ arguments: [String]) throws -> ProcessResult {
        try Subprocess.run(
            Fixtures.sealdropd, ["authorized-keys", "--data", directory.file("data"), "--trust", directory.file("ca/trust")] + arguments,
            directory: directory.path)
    }

    @Test func authorizedKeysListsNothingForAKeyCertifiedUnderTwoNames() throws {
        let directory = try Self.certificates(duplicate: "aaa-dup", of: "newvendor")
        let newvendor = try VendorPublicKey.load(path: directory.file("newvendor.pub")).ssh.authorizedKeyLine
        let keyText = newvendor.split(separator: " ")[1]
        let all = try authorizedKeys(directory, ["--shared-account", "sealdrop", "sealdrop"])
        #expect(all.status == 0, "\(all.standardError)")
        #expect(!all.output.contains(keyText), "\(all.output)")
        #expect(all.output.contains("sealdrop:oldvendor") && all.output.contains("sealdrop:stranger"), "\(all.output)")
        #expect(all.standardError.contains("certified under several names"), "\(all.standardError)")
        for name in ["newvendor", "aaa-dup"] {
            let one = try authorizedKeys(directory, [name])
            #expect(one.status == 0 && one.output.isEmpty, "\(name): \(one.output)")
        }
    }

    /// `serve`'s own login: neither the owner's name nor the duplicate's logs in with the key.
    @Test func serveRefusesTheLoginUnderEitherName() throws {
        let directory = try Self.certificates(duplicate: "aaa-dup", of: "newvendor")
        let server = try ServerFixture(reusing: directory)
        #expect(try server.sftp("oldvendor", ["ls /inbox"]).status == 0)
        #expect(try server.sftp("newvendor", ["ls /inbox"]).status != 0)
        #expect(try server.sftp("aaa-dup", identity: "newvendor", ["ls /inbox"]).status != 0)
        let log = server.log()
        #expect(log.contains("certified under several names"), "\(log)")
    }

    /// Behind sshd with ExposeAuthInfo: the subsystem maps the key sshd
    /// accepted to a vendor, and refuses an ambiguous or revoked key itself.
    @Test func theSubsystemRefusesAnAmbiguousOrRevokedKey() throws {
        for (directory, owner) in [
            (try Self.certificates(duplicate: "aaa-dup", of: "newvendor"), "newvendor"),
            (try Self.certificates(duplicate: "inj-cmt", of: "stranger", revokeOwner: .keyCompromise), "stranger"),
        ] {
            let key = try String(contentsOfFile: directory.file(owner + ".pub"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let auth = try directory.write(Array("publickey \(key)\n".utf8), to: "auth-\(owner)")
            func sftp(_ authFile: String) throws -> ProcessResult {
                let batch = try directory.write(Array("ls /inbox\n".utf8), to: "batch")
                let command =
                    "/usr/bin/env SSH_USER_AUTH=\(authFile) \(Fixtures.sealdropd) sftp-subsystem --data \(directory.file("data")) --trust \(directory.file("ca/trust"))"
                return try Subprocess.run(Subprocess.which("sftp")!, ["-D", command, "-b", batch], directory: directory.path)
            }
            let refused = try sftp(auth)
            #expect(refused.status != 0, "\(owner): \(refused.output)")
            let oldKey = try String(contentsOfFile: directory.file("oldvendor.pub"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try sftp(try directory.write(Array("publickey \(oldKey)\n".utf8), to: "auth-old")).status == 0, "others still log in")
        }
    }

    /// R2's revocation case through sshd: the owner's certificate is revoked
    /// for key compromise; the same key under another certificate stays out.
    @Test func revocationFollowsTheKeyBehindSSHD() throws {
        let front = try OpenSSHFront()
        defer { front.stop() }
        #expect(try front.sftp(as: "newvendor", ["ls /inbox"]).status == 0)
        var authority = try CertificateAuthority.load(directory: front.directory.file("ca"), passphrase: .none)
        _ = try authority.revoke("newvendor", reason: .keyCompromise)
        // A certificate naming the same key under another name appears later.
        let records = authority.state.issued
        authority.state.issued = []
        try authority.issue(
            name: try VendorName("echo-two"), subjectKey: try VendorPublicKey.load(path: front.directory.file("newvendor.pub")), role: .vendor, days: 30)
        authority.state.issued = records + authority.state.issued
        try authority.publishRevocationList()
        let refused = try front.sftp(as: "newvendor", ["ls /inbox"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("Permission denied"), "\(refused.standardError)")
        #expect(try front.sftp(as: "oldvendor", ["ls /inbox"]).status == 0)
    }

    /// The drop box's own calls, on one key certified twice.
    @Test func theDropBoxLoginCallsRefuseAnAmbiguousKey() throws {
        let world = try DropBoxWorld()
        let bravo = try #require(world.keys["newvendor"])
        let records = world.authority.state.issued
        world.authority.state.issued = []
        try world.authority.issue(name: try VendorName("aaa-dup"), subjectKey: bravo.publicKey, role: .vendor, days: 30)
        world.authority.state.issued = records + world.authority.state.issued
        world.dropBox.refreshTrust()
        for user in ["newvendor", "aaa-dup"] {
            #expect(world.dropBox.authenticate(user: user, key: bravo.publicKey, sourceAddress: "192.0.2.9", signed: true) == nil, "\(user)")
        }
        #expect(world.dropBox.subsystemVendor(key: bravo.publicKey, claimedName: nil, sourceAddress: "192.0.2.9") == nil)
        let old = try #require(world.keys["oldvendor"])
        #expect(world.dropBox.authenticate(user: "oldvendor", key: old.publicKey, sourceAddress: "192.0.2.9", signed: true) != nil)
    }
}
