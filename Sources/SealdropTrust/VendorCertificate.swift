import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropKeys
import SwiftASN1
import X509
import Crypto

/// A parsed certificate with what sealdrop reads from it. Parsing checks
/// form only; whether it may be trusted is `CertificateVerifier`'s decision.
public struct VendorCertificate: Sendable {
    public let certificate: Certificate
    /// SHA-256 of the DER encoding; what envelope headers record.
    public let fingerprint: Fingerprint
    public let der: [UInt8]

    /// The subject's common name, unchecked (the verifier applies the rule).
    public var commonName: String? {
        certificate.subject.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }.map { String(describing: $0.value) }
    }

    /// Roles named by the extended key usage.
    public func roles() throws(TrustError) -> [CertificateRole] {
        try CertificateRole.roles(in: certificate)
    }

    /// The Ed25519 key as a vendor key, if it is one.
    public func vendorKey() throws(TrustError) -> VendorPublicKey {
        guard let key = Curve25519.Signing.PublicKey(certificate.publicKey) else {
            throw TrustError(
                .notEd25519,
                "the certificate for \(commonName ?? "?") holds a \(Self.keyKind(certificate.publicKey)) key; sealdrop certificates hold Ed25519 keys")
        }
        do {
            return try VendorPublicKey(SSHEd25519PublicKey(rawKey: Array(key.rawRepresentation), comment: commonName ?? ""))
        } catch {
            throw TrustError(.notEd25519, "the certificate's Ed25519 key is invalid")
        }
    }

    public init(certificate: Certificate) throws(TrustError) {
        self.certificate = certificate
        var serializer = DER.Serializer()
        do {
            try serializer.serialize(certificate)
        } catch {
            throw TrustError(.malformedCertificate, "the certificate cannot be encoded: \(error)")
        }
        der = serializer.serializedBytes
        fingerprint = Fingerprint(bytes: Digest.sha256(der))!
    }

    /// Reads exactly one PEM certificate: a truncated PEM, a second
    /// certificate or anything else is refused.
    public init(pem text: String, source: String) throws(TrustError) {
        let blocks = text.components(separatedBy: "-----BEGIN ").count - 1
        guard blocks >= 1 else {
            throw TrustError(.malformedCertificate, "\(source) holds no PEM certificate (no BEGIN CERTIFICATE line)")
        }
        guard blocks == 1 else {
            throw TrustError(.malformedCertificate, "\(source) holds \(blocks) PEM blocks; a certificate file must hold exactly one certificate")
        }
        guard text.contains("-----END CERTIFICATE-----") else {
            throw TrustError(.malformedCertificate, "\(source) is truncated: the END CERTIFICATE line is missing")
        }
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: text)
        } catch {
            throw TrustError(.malformedCertificate, "\(source) is not a valid X.509 certificate: \(error)")
        }
        try self.init(certificate: certificate)
    }

    public static func load(path: String) throws(TrustError) -> VendorCertificate {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TrustError(.trustStoreUnreadable, "cannot read \(path): \(error.localizedDescription)")
        }
        return try VendorCertificate(pem: text, source: path)
    }

    public var pem: String {
        // Encoding a parsed certificate back to PEM cannot fail.
        (try? certificate.serializeAsPEM().pemString) ?? ""
    }

    public static func keyKind(_ key: Certificate.PublicKey) -> String {
        if P256.Signing.PublicKey(key) != nil { return "P-256" }
        if P384.Signing.PublicKey(key) != nil { return "P-384" }
        if P521.Signing.PublicKey(key) != nil { return "P-521" }
        return "RSA or other non-Ed25519"
    }
}
