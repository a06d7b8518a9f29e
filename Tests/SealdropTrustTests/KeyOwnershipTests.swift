import Foundation
import SealdropFormat
import SealdropKeys
@testable import SealdropTrust
import Testing
import TestSupport

/// One key names one vendor: a key certified under two names serves
/// nobody, a revoked key is refused under every name, and the CA will not
/// certify a key it already certified to someone else.
@Suite struct KeyOwnershipTests {
    /// Files a certificate the CA signed for `name` with `key` (as a CA
    /// that lost its records, or a careless operator, would make one).
    func forge(_ ca: TestAuthority, name: String, key: VendorIdentity) throws {
        let certificate = try ca.craft(commonName: name, publicKey: try TestAuthority.ed25519Key(key))
        try Data(certificate.pem.utf8).write(to: URL(fileURLWithPath: ca.trustDirectory + "/vendors/\(name).pem"))
    }

    func expectCode(_ code: TrustError.Code, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("accepted; expected \(code.rawValue)", sourceLocation: sourceLocation)
        } catch let error as TrustError {
            #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func aKeyCertifiedUnderTwoNamesServesNeither() throws {
        var ca = try TestAuthority()
        let (_, bravo) = try ca.issue("bravo")
        let (_, alpha) = try ca.issue("alpha")
        try forge(ca, name: "aaa-dup", key: bravo)
        let store = try ca.store()
        for name in ["bravo", "aaa-dup"] {
            expectCode(.ambiguousKey) { _ = try store.party(named: try VendorName(name), for: .sender) }
            expectCode(.ambiguousKey) { _ = try store.party(named: try VendorName(name), for: .recipient) }
        }
        expectCode(.ambiguousKey) { _ = try store.party(key: bravo.publicKey, for: .sender) }
        #expect(store.diagnostics.count == 1)
        #expect(store.diagnostics.first?.contains("\"aaa-dup\", \"bravo\"") == true, "\(store.diagnostics)")
        // Everyone else is untouched.
        #expect(try store.party(key: alpha.publicKey, for: .sender).name.value == "alpha")
        #expect(try store.party(named: try VendorName("alpha"), for: .sender).key.fingerprint == alpha.fingerprint)
    }

    /// A file another CA signed proves nothing, so it cannot lock a vendor out.
    @Test func aCertificateFromAnotherCADoesNotMakeAKeyAmbiguous() throws {
        var ca = try TestAuthority()
        let (_, bravo) = try ca.issue("bravo")
        let foreign = try TestAuthority(name: "Other CA")
        let certificate = try foreign.craft(commonName: "aaa-dup", publicKey: try TestAuthority.ed25519Key(bravo))
        try Data(certificate.pem.utf8).write(to: URL(fileURLWithPath: ca.trustDirectory + "/vendors/aaa-dup.pem"))
        let store = try ca.store()
        #expect(try store.party(key: bravo.publicKey, for: .sender).name.value == "bravo")
        #expect(store.diagnostics.isEmpty)
        expectCode(.untrustedIssuer) { _ = try store.party(named: try VendorName("aaa-dup"), for: .sender) }
    }

    /// R2: revoking one name for key compromise must not leave the key
    /// working under another certificate that names it.
    @Test func revocationFollowsTheKeyToEveryName() throws {
        var ca = try TestAuthority()
        let (_, charlie) = try ca.issue("charlie")
        _ = try ca.authority.revoke("charlie", reason: .keyCompromise)
        try forge(ca, name: "inj-cmt", key: charlie)
        let store = try ca.store()
        expectCode(.revoked) { _ = try store.party(named: try VendorName("inj-cmt"), for: .sender) }
        expectCode(.revoked) { _ = try store.party(key: charlie.publicKey, for: .sender) }
        let fingerprint = store.vendorCertificates().first { $0.commonName == "inj-cmt" }!.fingerprint
        expectCode(.revoked) { _ = try store.party(certificateFingerprint: fingerprint, for: .sender) }
        #expect(store.diagnostics.contains { $0.contains("revoked") && $0.contains("inj-cmt") }, "\(store.diagnostics)")
    }

    @Test func theCARefusesAKeyCertifiedToAnotherName() throws {
        var ca = try TestAuthority()
        let (_, bravo) = try ca.issue("bravo")
        #expect(throws: TrustError.self) { try ca.authority.issue(name: try VendorName("aaa-dup"), subjectKey: bravo.publicKey, role: .vendor, days: 30) }
        #expect(throws: TrustError.self) { try ca.authority.issue(name: try VendorName("bravo"), subjectKey: bravo.publicKey, role: .server, days: 30) }
        #expect(!FileManager.default.fileExists(atPath: ca.trustDirectory + "/vendors/aaa-dup.pem"))
        // The same name may renew with its own key.
        try ca.authority.issue(name: try VendorName("bravo"), subjectKey: bravo.publicKey, role: .vendor, days: 30, replace: true)
        // Records from before the key was kept: found through the filed certificate.
        let reloaded = try CertificateAuthority.load(directory: ca.authority.directory, passphrase: .none)
        var stripped = reloaded
        stripped.state.issued = reloaded.state.issued.map { record in
            var old = record
            old.key = nil
            return old
        }
        #expect(throws: TrustError.self) { try stripped.issue(name: try VendorName("zzz-dup"), subjectKey: bravo.publicKey, role: .vendor, days: 30) }
    }

    /// A key whose certificate was revoked for another reason may be
    /// certified again (a rename); the revoked file leaves the trust store
    /// so the new name works. A key revoked for compromise never comes back.
    @Test func theCAReissuesAKeyOnlyAfterARevocationThatIsNotACompromise() throws {
        var ca = try TestAuthority()
        let (_, bravo) = try ca.issue("bravo")
        _ = try ca.authority.revoke("bravo", reason: .cessationOfOperation)
        try ca.authority.issue(name: try VendorName("bravo-new"), subjectKey: bravo.publicKey, role: .vendor, days: 30)
        #expect(!FileManager.default.fileExists(atPath: ca.trustDirectory + "/vendors/bravo.pem"))
        #expect(try ca.store().party(key: bravo.publicKey, for: .sender).name.value == "bravo-new")

        let (_, charlie) = try ca.issue("charlie")
        _ = try ca.authority.revoke("charlie", reason: .keyCompromise)
        for (name, replace) in [("charlie-2", false), ("charlie", true)] {
            do {
                try ca.authority.issue(name: try VendorName(name), subjectKey: charlie.publicKey, role: .vendor, days: 30, replace: replace)
                Issue.record("a key revoked for compromise was certified again as \(name)")
            } catch let error as TrustError {
                #expect(error.message.contains("key compromise"), "\(error.message)")
            }
        }
    }

    /// Through the real `sealdrop ca issue`.
    @Test func theCACommandRefusesAnotherVendorsKey() throws {
        let directory = try TemporaryDirectory()
        #expect(try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]).status == 0)
        let taken = try Subprocess.run(
            Fixtures.sealdrop, ["ca", "issue", "--ca-dir", "ca", "--name", "aaa-dup", "--pubkey", "newvendor.pub"], directory: directory.path)
        #expect(taken.status != 0)
        #expect(taken.standardError.contains("already certified to vendor newvendor"), "\(taken.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("ca/trust/vendors/aaa-dup.pem")))
    }
}
