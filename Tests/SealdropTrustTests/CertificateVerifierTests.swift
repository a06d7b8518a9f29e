import Crypto
import Foundation
import SealdropFormat
import SealdropKeys
@testable import SealdropTrust
import Testing
import TestSupport
import X509

/// Every refusal of the verifier, each with its own code.
@Suite struct CertificateVerifierTests {
    func expectRefused(_ code: TrustError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("accepted; expected \(code.rawValue)", sourceLocation: sourceLocation)
        } catch let error as TrustError {
            #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
            #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func aFreshVendorCertificateVerifiesForSendingAndReceiving() throws {
        var ca = try TestAuthority()
        let (certificate, key) = try ca.issue("acme-lis")
        let store = try ca.store()
        for purpose in [CertificatePurpose.recipient, .sender] {
            let party = try store.verifier().verify(certificate, for: purpose)
            #expect(party.name.value == "acme-lis")
            #expect(party.key.fingerprint == key.fingerprint)
        }
        #expect(try store.party(named: VendorName("acme-lis"), for: .recipient).certificate.fingerprint == certificate.fingerprint)
        #expect(try store.party(key: key.publicKey, for: .sender).name.value == "acme-lis")
        #expect(try store.party(certificateFingerprint: certificate.fingerprint, for: .sender).name.value == "acme-lis")
    }

    @Test func certificateFromAnotherCA() throws {
        let ours = try TestAuthority()
        var theirs = try TestAuthority(name: "Other CA")
        let (foreign, _) = try theirs.issue("acme-lis")
        expectRefused(.untrustedIssuer) { _ = try ours.store().verifier().verify(foreign, for: .recipient) }
        // Same CA name, different key: still another CA.
        var twin = try TestAuthority(name: "Test CA")
        let (impostor, _) = try twin.issue("acme-lis")
        expectRefused(.untrustedIssuer) { _ = try ours.store().verifier().verify(impostor, for: .recipient) }
    }

    @Test func expiredAndNotYetValid() throws {
        var ca = try TestAuthority(now: Date().addingTimeInterval(-800 * 86_400))
        let (old, _) = try ca.issue("old-vendor", days: 30, now: Date().addingTimeInterval(-400 * 86_400))
        let (future, _) = try ca.issue("future-vendor", now: Date().addingTimeInterval(2 * 86_400))
        try ca.authority.publishRevocationList()
        let verifier = try ca.store().verifier()
        expectRefused(.expired) { _ = try verifier.verify(old, for: .recipient) }
        expectRefused(.notYetValid) { _ = try verifier.verify(future, for: .recipient) }
        // Within the clock-skew allowance, a certificate is still accepted.
        let (almost, _) = try ca.issue("almost", now: Date().addingTimeInterval(CertificateVerifier.clockSkew / 2))
        _ = try verifier.verify(almost, for: .recipient)
    }

    @Test func revoked() throws {
        var ca = try TestAuthority()
        let (certificate, _) = try ca.issue("acme-lis")
        let (other, _) = try ca.issue("other-lab")
        _ = try ca.authority.revoke("acme-lis", reason: .keyCompromise)
        let store = try ca.store()
        #expect(store.revocations?.number == 2)
        expectRefused(.revoked) { _ = try store.verifier().verify(certificate, for: .recipient) }
        _ = try store.verifier().verify(other, for: .recipient)
        // Revoking by serial too.
        _ = try ca.authority.revoke(Hex.encode(other.certificate.serialNumber.bytes), reason: .superseded)
        expectRefused(.revoked) { _ = try ca.store().verifier().verify(other, for: .sender) }
    }

    @Test func serverCertificateUsedAsARecipient() throws {
        var ca = try TestAuthority()
        let (server, _) = try ca.issue("drop", role: .server)
        expectRefused(.wrongRole) { _ = try ca.store().verifier().verify(server, for: .recipient) }
        let (vendor, _) = try ca.issue("acme-lis")
        expectRefused(.wrongRole) { _ = try ca.store().verifier().verify(vendor, for: .server) }
        _ = try ca.store().verifier().verify(server, for: .server)
    }

    @Test func vendorCertificatePresentedAsTheCA() throws {
        var ca = try TestAuthority()
        let (vendor, _) = try ca.issue("acme-lis")
        let fake = try TemporaryDirectory()
        _ = try fake.write(Array(vendor.pem.utf8), to: "ca.pem")
        expectRefused(.notCertificateAuthority) { _ = try TrustStore.load(directory: fake.path) }
    }

    @Test func caCertificatePresentedAsAVendor() throws {
        let ca = try TestAuthority()
        let rogue = try ca.craft(commonName: "acme-lis", publicKey: try TestAuthority.ed25519Key(), isCA: true)
        expectRefused(.isCertificateAuthority) { _ = try ca.store().verifier().verify(rogue, for: .recipient) }
    }

    @Test func badSignature() throws {
        var ca = try TestAuthority()
        let (certificate, _) = try ca.issue("acme-lis")
        var der = certificate.der
        der[der.count - 5] ^= 0x01
        let altered = try VendorCertificate(certificate: Certificate(derEncoded: der))
        expectRefused(.badSignature) { _ = try ca.store().verifier().verify(altered, for: .recipient) }
    }

    @Test(arguments: ["Acme", "acme_lis", "-acme", "acme-", "", String(repeating: "a", count: 64), "acme lis", "acmé"])
    func nameThatBreaksTheRule(_ name: String) throws {
        let ca = try TestAuthority()
        let crafted = try ca.craft(commonName: name.isEmpty ? "x y" : name, publicKey: try TestAuthority.ed25519Key())
        expectRefused(.badName) { _ = try ca.store().verifier().verify(crafted, for: .recipient) }
        #expect(VendorName.problem(with: name) != nil)
    }

    @Test func validNames() throws {
        for name in ["a", "acme-lis", "lab42", "0day", String(repeating: "z", count: 63)] {
            #expect(VendorName.problem(with: name) == nil, "\(name)")
        }
    }

    @Test func nonEd25519Key() throws {
        let ca = try TestAuthority()
        let crafted = try ca.craft(commonName: "acme-lis", publicKey: Certificate.PublicKey(P256.Signing.PrivateKey().publicKey))
        expectRefused(.notEd25519) { _ = try ca.store().verifier().verify(crafted, for: .recipient) }
    }

    @Test func truncatedPEMAndTwoCertificates() throws {
        var ca = try TestAuthority()
        let (one, _) = try ca.issue("acme-lis")
        let (two, _) = try ca.issue("other-lab")
        let pem = one.pem
        expectRefused(.malformedCertificate) { _ = try VendorCertificate(pem: String(pem.prefix(pem.count / 2)), source: "half.pem") }
        expectRefused(.malformedCertificate) {
            _ = try VendorCertificate(pem: pem.replacingOccurrences(of: "-----END CERTIFICATE-----", with: ""), source: "no-end.pem")
        }
        expectRefused(.malformedCertificate) { _ = try VendorCertificate(pem: pem + two.pem, source: "two.pem") }
        expectRefused(.malformedCertificate) { _ = try VendorCertificate(pem: "hello", source: "text.pem") }
        var body = Array(pem.utf8)
        body[100] = UInt8(ascii: "!")
        expectRefused(.malformedCertificate) { _ = try VendorCertificate(pem: String(decoding: body, as: UTF8.self), source: "corrupt.pem") }
    }

    @Test func unknownVendorAndMisfiledCertificate() throws {
        var ca = try TestAuthority()
        let (certificate, _) = try ca.issue("acme-lis")
        expectRefused(.unknownVendor) { _ = try ca.store().party(named: VendorName("nobody"), for: .recipient) }
        try Data(certificate.pem.utf8).write(to: URL(fileURLWithPath: ca.trustDirectory + "/vendors/impostor.pem"))
        expectRefused(.unknownVendor) { _ = try ca.store().party(named: VendorName("impostor"), for: .recipient) }
    }
}

@Suite struct RevocationListTests {
    @Test func staleListIsRefused() throws {
        let ca = try TestAuthority()
        expectStale { _ = try ca.store(now: Date().addingTimeInterval(CertificateAuthority.revocationListLifetime + 3600)) }
    }

    @Test func aMissingListFailsClosedAndAnOldListCannotComeBack() throws {
        var ca = try TestAuthority()
        _ = try ca.issue("acme-lis")
        let path = ca.trustDirectory + "/revocations.crl"
        let first = try Data(contentsOf: URL(fileURLWithPath: path))
        _ = try ca.authority.revoke("acme-lis", reason: .keyCompromise)
        let current = try ca.store()
        #expect(current.revocations?.number == 2)
        try first.write(to: URL(fileURLWithPath: path))
        #expect(throws: TrustError(.staleRevocationList, "")) { try TrustStore.load(directory: ca.trustDirectory, revocationFloor: 2) }
        try FileManager.default.removeItem(atPath: path)
        #expect(throws: TrustError(.badRevocationList, "")) { try ca.store() }
    }

    @Test func listFromAnotherCAIsRefused() throws {
        let ours = try TestAuthority()
        let theirs = try TestAuthority(name: "Test CA")
        try FileManager.default.removeItem(atPath: ours.trustDirectory + "/revocations.crl")
        try FileManager.default.copyItem(atPath: theirs.trustDirectory + "/revocations.crl", toPath: ours.trustDirectory + "/revocations.crl")
        #expect(throws: TrustError(.badRevocationList, "")) { _ = try ours.store() }
    }

    @Test func tamperedOrTruncatedListIsRefused() throws {
        let ca = try TestAuthority()
        let path = ca.trustDirectory + "/revocations.crl"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try String(text.prefix(text.count - 30)).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TrustError(.badRevocationList, "")) { _ = try ca.store() }
        try "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TrustError(.badRevocationList, "")) { _ = try ca.store() }
    }

    @Test func numbersIncreaseAndEntriesRoundTrip() throws {
        var ca = try TestAuthority()
        let (certificate, _) = try ca.issue("acme-lis")
        #expect(try ca.store().revocations?.number == 1)
        _ = try ca.authority.revoke("acme-lis", reason: .cessationOfOperation)
        let list = try #require(try ca.store().revocations)
        #expect(list.number == 2)
        let entry = try #require(list.entry(forSerial: Array(certificate.certificate.serialNumber.bytes)))
        #expect(entry.reason == .cessationOfOperation)
        let reloaded = try CertificateAuthority.load(directory: ca.authority.directory, passphrase: .none)
        #expect(reloaded.issued.first?.revoked?.reason == "cessationOfOperation")
    }

    func expectStale(_ body: () throws -> Void) {
        #expect(throws: TrustError(.staleRevocationList, "")) { try body() }
    }
}

@Suite struct RoleEncodingTests {
    @Test func uuidArcEncodesAsDER() throws {
        // 2.25.x.1.1: first byte 0x69 (= 2*40+25), then the 128-bit arc in base 128.
        let content = try #require(ObjectIdentifierEncoding.content(dotted: CertificateRole.vendor.dottedOID))
        #expect(content.first == 0x69)
        #expect(content.suffix(2) == [0x01, 0x01])
        #expect(ObjectIdentifierEncoding.content(dotted: "1.2.840.113549") == [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d])
        #expect(ObjectIdentifierEncoding.content(dotted: "2.5.29.37") == [0x55, 0x1d, 0x25])
        #expect(ObjectIdentifierEncoding.content(dotted: "1..2") == nil)
        #expect(ObjectIdentifierEncoding.content(dotted: "7.1") == nil)
    }
}
