import Crypto
import Foundation
import SealdropCrypto
import X509

@testable import SealdropTrust

/// A CA that exists only in this target: a fixed key, so seeds written once
/// stay valid, and a fixed "now" inside every validity it issues.
enum FuzzCA {
    static let seed = [UInt8](repeating: 0x3c, count: 32)
    static let signingKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    static let sodiumKey = try! Ed25519PrivateKey(seed: SecretBytes(copying: seed))
    static let publicKey = Certificate.PublicKey(signingKey.publicKey)
    /// 2026-01-01T00:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_767_225_600)
    static let subject = try! DistinguishedName {
        OrganizationName("sealdrop")
        CommonName("Fuzz CA")
    }
    static let certificate: VendorCertificate = {
        let extensions = try! Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try! Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: [0x01]), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-86_400), notValidAfter: now.addingTimeInterval(3650 * 86_400), issuer: subject,
            subject: subject, extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(signingKey))
        return try! VendorCertificate(certificate: certificate)
    }()
    /// The serial this CA has revoked.
    static let revokedSerial: [UInt8] = [0x0b, 0xad]
    static let revocations = RevocationList(
        number: 7, thisUpdate: now.addingTimeInterval(-3600), nextUpdate: now.addingTimeInterval(90 * 86_400),
        entries: [RevocationList.Entry(serial: revokedSerial, date: now.addingTimeInterval(-7200), reason: .keyCompromise)])
    static let revocationListDER = try! revocations.signed(issuer: subject, by: sodiumKey)
    static let verifier = CertificateVerifier(ca: certificate, revocations: revocations, now: now)

    /// A certificate with `template`'s fields but issued (signed) by this CA.
    static func reissue(_ template: Certificate, serial: Certificate.SerialNumber? = nil) -> VendorCertificate? {
        guard
            let certificate = try? Certificate(
                version: template.version, serialNumber: serial ?? template.serialNumber, publicKey: template.publicKey,
                notValidBefore: template.notValidBefore, notValidAfter: template.notValidAfter, issuer: subject, subject: template.subject,
                extensions: template.extensions, issuerPrivateKey: Certificate.PrivateKey(signingKey))
        else { return nil }
        return try? VendorCertificate(certificate: certificate)
    }

    /// A certificate this CA issues for `name` with `role`, as the real CA does.
    static func issue(name: String, role: CertificateRole?, serial: [UInt8], key: Curve25519.Signing.PublicKey, days: Double = 365) -> VendorCertificate {
        let subjectKey = Certificate.PublicKey(key)
        var extensions = try! Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            SubjectKeyIdentifier(hash: subjectKey)
            AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: publicKey).keyIdentifier)
        }
        if let role { try! extensions.append(role.extendedKeyUsageExtension) }
        let subjectName = try! DistinguishedName {
            OrganizationName("sealdrop")
            CommonName(name)
        }
        let certificate = try! Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: serial[...]), publicKey: subjectKey,
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(days * 86_400), issuer: subject,
            subject: subjectName, extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(signingKey))
        return try! VendorCertificate(certificate: certificate)
    }
}
