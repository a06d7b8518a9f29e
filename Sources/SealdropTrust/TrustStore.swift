import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropKeys
import X509
import Crypto

/// A trust store folder as a deployment lays it out (see
/// `Certificates/README.md`): the pinned CA certificate, one certificate
/// per vendor and per server, and the CA's revocation list.
public struct TrustStore: Sendable {
    public static let caFile = "ca.pem"
    public static let vendorsFolder = "vendors"
    public static let serverFolder = "server"
    public static let revocationFile = "revocations.crl"

    public let directory: String
    public let ca: VendorCertificate
    public let revocations: RevocationList?

    /// Loads and checks the CA certificate and the revocation list.
    ///
    /// - Parameter revocationFloor: the highest CRL number this reader has
    ///   seen before; an older list is refused, so revocations cannot be
    ///   rolled back by restoring an earlier file.
    public static func load(directory: String, now: Date = Date(), revocationFloor: UInt64 = 0) throws(TrustError) -> TrustStore {
        let caPath = directory + "/" + caFile
        guard FileManager.default.fileExists(atPath: caPath) else {
            throw TrustError(
                .trustStoreUnreadable, "\(directory) is not a trust store: it has no \(caFile); pass --trust with the folder the CA operator published")
        }
        let ca = try VendorCertificate.load(path: caPath)
        let caKey = try checkAuthority(ca, source: caPath)
        let skew = CertificateVerifier.clockSkew
        guard ca.certificate.notValidBefore <= now.addingTimeInterval(skew), ca.certificate.notValidAfter >= now.addingTimeInterval(-skew) else {
            throw TrustError(
                .expired,
                "the CA certificate \(caPath) is not valid now (valid \(CertificateVerifier.format(ca.certificate.notValidBefore)) to \(CertificateVerifier.format(ca.certificate.notValidAfter)))"
            )
        }

        // No list is not "nothing revoked": it fails closed, as a stale one does.
        let crlPath = directory + "/" + revocationFile
        guard let data = FileManager.default.contents(atPath: crlPath) else {
            throw TrustError(.badRevocationList, "\(directory) has no \(revocationFile); without it no revocation could be checked")
        }
        let list = try RevocationList.verified([UInt8](data), source: crlPath, ca: ca.certificate, caKey: caKey)
        if list.nextUpdate < now.addingTimeInterval(-skew) {
            throw TrustError(
                .staleRevocationList,
                "\(crlPath) expired on \(CertificateVerifier.format(list.nextUpdate)): revocations since then would be missed; fetch the current list from the CA operator"
            )
        }
        guard list.number >= revocationFloor else {
            throw TrustError(
                .staleRevocationList,
                "\(crlPath) is list number \(list.number), older than number \(revocationFloor) seen before: an old list was put back, which would undo revocations"
            )
        }
        return TrustStore(directory: directory, ca: ca, revocations: list)
    }

    /// Checks a CA certificate file a client is about to pin: a self-signed
    /// Ed25519 CA, allowed to sign certificates, valid now.
    public static func checkAnchor(path: String, now: Date = Date()) throws(TrustError) -> VendorCertificate {
        let ca = try VendorCertificate.load(path: path)
        _ = try checkAuthority(ca, source: path)
        let skew = CertificateVerifier.clockSkew
        guard ca.certificate.notValidBefore <= now.addingTimeInterval(skew), ca.certificate.notValidAfter >= now.addingTimeInterval(-skew) else {
            throw TrustError(.expired, "the CA certificate \(path) is not valid now")
        }
        return ca
    }

    /// Loads the store with the revocation-number floor kept in `floorFile`
    /// (missing means none seen yet), and raises the floor to the list just read.
    public static func load(directory: String, now: Date = Date(), floorFile: String) throws(TrustError) -> TrustStore {
        let floor = (try? String(contentsOfFile: floorFile, encoding: .utf8)).flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        let store = try load(directory: directory, now: now, revocationFloor: floor)
        if let number = store.revocations?.number, number > floor {
            try? String(number).write(toFile: floorFile, atomically: true, encoding: .utf8)
        }
        return store
    }

    /// The pinned CA must be a self-signed Ed25519 CA allowed to sign certificates.
    static func checkAuthority(_ ca: VendorCertificate, source: String) throws(TrustError) -> Ed25519PublicKey {
        let certificate = ca.certificate
        guard let constraints = try? certificate.extensions.basicConstraints, case .isCertificateAuthority = constraints,
            let usage = try? certificate.extensions.keyUsage, usage.keyCertSign
        else {
            throw TrustError(.notCertificateAuthority, "\(source) is not a CA certificate (it lacks CA:true or keyCertSign); it cannot be the trust anchor")
        }
        guard let key = Curve25519.Signing.PublicKey(certificate.publicKey), let ed25519 = try? Ed25519PublicKey(bytes: key.rawRepresentation) else {
            throw TrustError(.notEd25519, "\(source) holds a \(VendorCertificate.keyKind(certificate.publicKey)) key; the sealdrop CA uses Ed25519")
        }
        guard certificate.issuer == certificate.subject, certificate.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            throw TrustError(.notCertificateAuthority, "\(source) is not self-signed; the trust anchor must be the CA's own certificate")
        }
        return ed25519
    }

    public func verifier(now: Date = Date()) -> CertificateVerifier {
        CertificateVerifier(ca: ca, revocations: revocations, now: now)
    }

    public func path(for name: VendorName, role: CertificateRole) -> String {
        directory + "/" + (role == .vendor ? Self.vendorsFolder : Self.serverFolder) + "/" + name.value + ".pem"
    }

    /// The certificate filed under `name`, verified for `purpose`.
    public func party(named name: VendorName, for purpose: CertificatePurpose, now: Date = Date()) throws(TrustError) -> VerifiedParty {
        let path = path(for: name, role: purpose.requiredRole)
        guard FileManager.default.fileExists(atPath: path) else {
            throw TrustError(.unknownVendor, "no certificate for \"\(name)\" in \(directory) (looked for \(path)); check the name or ask the CA operator")
        }
        let party = try verifier(now: now).verify(try VendorCertificate.load(path: path), for: purpose)
        guard party.name == name else {
            throw TrustError(.unknownVendor, "\(path) names \"\(party.name)\", not \"\(name)\"; the trust store is misfiled")
        }
        return party
    }

    /// Every vendor certificate filed in the store (unverified), for lookups by fingerprint or key.
    public func vendorCertificates() -> [VendorCertificate] {
        let folder = directory + "/" + Self.vendorsFolder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".pem") }.sorted().compactMap { try? VendorCertificate.load(path: folder + "/" + $0) }
    }

    /// Every server certificate filed in the store (unverified).
    public func serverCertificates() -> [VendorCertificate] {
        let folder = directory + "/" + Self.serverFolder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".pem") }.sorted().compactMap { try? VendorCertificate.load(path: folder + "/" + $0) }
    }

    /// The verified vendor whose certificate has `fingerprint`.
    public func party(certificateFingerprint fingerprint: Fingerprint, for purpose: CertificatePurpose, now: Date = Date()) throws(TrustError) -> VerifiedParty
    {
        guard let certificate = vendorCertificates().first(where: { $0.fingerprint == fingerprint }) else {
            throw TrustError(.unknownVendor, "no certificate in \(directory) has fingerprint \(fingerprint); the trust store may be out of date")
        }
        return try verifier(now: now).verify(certificate, for: purpose)
    }

    /// The verified vendor whose certificate holds `key` (for finding one's own certificate).
    public func party(key: VendorPublicKey, for purpose: CertificatePurpose, now: Date = Date()) throws(TrustError) -> VerifiedParty {
        let candidates = vendorCertificates().filter { (try? $0.vendorKey().fingerprint) == key.fingerprint }
        guard !candidates.isEmpty else {
            throw TrustError(
                .unknownVendor, "no certificate in \(directory) holds the key \(key.fingerprint); ask the CA operator to issue one (sealdrop ca issue)")
        }
        var firstError: TrustError?
        for candidate in candidates {
            do {
                return try verifier(now: now).verify(candidate, for: purpose)
            } catch {
                firstError = firstError ?? error
            }
        }
        throw firstError!
    }
}
