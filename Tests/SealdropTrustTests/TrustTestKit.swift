import Crypto
import Foundation
import SealdropKeys
@testable import SealdropTrust
import SwiftASN1
import TestSupport
import X509

/// A CA in a temporary folder, and ways to make certificates it would
/// never issue on its own (foreign keys, broken names, bad signatures).
struct TestAuthority {
    let directory: TemporaryDirectory
    var authority: CertificateAuthority

    init(name: String = "Test CA", now: Date = Date()) throws {
        directory = try TemporaryDirectory()
        authority = try CertificateAuthority.create(directory: directory.file("ca"), name: name, days: 3650, now: now)
    }

    var trustDirectory: String { authority.trustDirectory }

    func store(now: Date = Date()) throws -> TrustStore {
        try TrustStore.load(directory: trustDirectory, now: now)
    }

    @discardableResult
    mutating func issue(
        _ name: String, role: CertificateRole = .vendor, days: Int = 365, now: Date = Date(),
        key: VendorIdentity = .generate()
    ) throws -> (VendorCertificate, VendorIdentity) {
        let certificate = try authority.issue(name: try VendorName(name), subjectKey: key.publicKey, role: role, days: days, now: now, replace: true)
        return (certificate, key)
    }

    /// A certificate signed by this CA with whatever subject and key the test wants.
    func craft(commonName: String, publicKey: Certificate.PublicKey, role: CertificateRole = .vendor, isCA: Bool = false) throws -> VendorCertificate {
        let subject = try DistinguishedName {
            OrganizationName("sealdrop")
            CommonName(commonName)
        }
        var extensions = try Certificate.Extensions {
            Critical(isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: 0) : BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyCertSign: isCA))
            AuthorityKeyIdentifier(keyIdentifier: try authority.certificate.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        }
        try extensions.append(role.extendedKeyUsageExtension)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(86_400),
            issuer: authority.certificate.certificate.subject, subject: subject, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(try CertificateAuthority.swiftCryptoKey(authority.key))
        )
        return try VendorCertificate(certificate: certificate)
    }

    static func ed25519Key(_ identity: VendorIdentity = .generate()) throws -> Certificate.PublicKey {
        Certificate.PublicKey(try Curve25519.Signing.PublicKey(rawRepresentation: identity.publicKey.ssh.rawKey))
    }
}
