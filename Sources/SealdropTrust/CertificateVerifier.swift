import Foundation
import SealdropCrypto
import SealdropKeys
import SwiftASN1
import X509

/// What a certificate is being used for; each purpose requires one role.
public enum CertificatePurpose: String, Sendable, CustomStringConvertible {
    case recipient, sender, server

    public var requiredRole: CertificateRole {
        switch self {
        case .recipient, .sender: .vendor
        case .server: .server
        }
    }

    public var description: String { rawValue }
}

/// A party whose certificate verified for a purpose.
public struct VerifiedParty: Sendable {
    public let name: VendorName
    public let key: VendorPublicKey
    public let certificate: VendorCertificate
}

/// The one place that decides whether a certificate may be used: it chains
/// to the pinned CA, its signature is valid, it is within its validity (give
/// or take `clockSkew`), it has the role the purpose needs, it is not
/// revoked, its name follows the rule and its key is Ed25519.
public struct CertificateVerifier: Sendable {
    /// Clocks of two vendors' machines rarely agree to the second; five
    /// minutes is the allowance Kerberos made customary.
    public static let clockSkew: TimeInterval = 5 * 60

    /// Extensions we understand; any other marked critical is refused (RFC 5280 §4.2).
    static let understoodExtensions: Set<ASN1ObjectIdentifier> = [
        .X509ExtensionID.basicConstraints, .X509ExtensionID.keyUsage, .X509ExtensionID.extendedKeyUsage,
        .X509ExtensionID.subjectKeyIdentifier, .X509ExtensionID.authorityKeyIdentifier, .X509ExtensionID.subjectAlternativeName,
    ]

    public let ca: VendorCertificate
    let caKey: Certificate.PublicKey
    public let revocations: RevocationList?
    public let now: Date

    init(ca: VendorCertificate, revocations: RevocationList?, now: Date) {
        self.ca = ca
        self.caKey = ca.certificate.publicKey
        self.revocations = revocations
        self.now = now
    }

    public func verify(_ candidate: VendorCertificate, for purpose: CertificatePurpose) throws(TrustError) -> VerifiedParty {
        let certificate = candidate.certificate
        let label = "the certificate for \"\(VendorName.printable(candidate.commonName ?? "?"))\""
        let key = try candidate.vendorKey()

        guard caKey.isValidSignature(certificate.signature, for: certificate) else {
            let sameIssuer =
                certificate.issuer == ca.certificate.subject
                && (try? certificate.extensions.authorityKeyIdentifier?.keyIdentifier) == (try? ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            if sameIssuer {
                throw TrustError(.badSignature, "\(label) has an invalid signature: it was altered after the CA signed it")
            }
            throw TrustError(.untrustedIssuer, "\(label) was issued by \"\(certificate.issuer)\", not by the pinned CA \"\(ca.certificate.subject)\"")
        }
        if let constraints = try? certificate.extensions.basicConstraints, case .isCertificateAuthority = constraints {
            throw TrustError(.isCertificateAuthority, "\(label) is a CA certificate, not a \(purpose.requiredRole) certificate")
        }
        for ext in certificate.extensions where ext.critical && !Self.understoodExtensions.contains(ext.oid) {
            throw TrustError(.unsupportedCriticalExtension, "\(label) has a critical extension sealdrop does not understand (\(ext.oid))")
        }
        let skew = Self.clockSkew
        if certificate.notValidBefore > now.addingTimeInterval(skew) {
            throw TrustError(.notYetValid, "\(label) is not valid before \(Self.format(certificate.notValidBefore)); check this machine's clock or wait")
        }
        if certificate.notValidAfter < now.addingTimeInterval(-skew) {
            throw TrustError(.expired, "\(label) expired on \(Self.format(certificate.notValidAfter)); the CA operator must issue a new one")
        }
        let name = try VendorName(candidate.commonName ?? "")
        let roles = try candidate.roles()
        guard roles.contains(purpose.requiredRole) else {
            let actual = roles.isEmpty ? "no sealdrop role" : "the \(roles.map(\.rawValue).joined(separator: ", ")) role"
            throw TrustError(.wrongRole, "\(label) has \(actual); a \(purpose) needs the \(purpose.requiredRole) role")
        }
        if let entry = revocations?.entry(forSerial: Array(certificate.serialNumber.bytes)) {
            throw TrustError(.revoked, "\(label) was revoked on \(Self.format(entry.date)) (\(entry.reason)); do not use it")
        }
        return VerifiedParty(name: name, key: key, certificate: candidate)
    }

    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
