import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropKeys
import X509
import Crypto

/// The CA certificate a reader pins, the CA's revocation list and the
/// vendor and server certificates filed under their names: a value built
/// from bytes, checked on construction. `load(directory:)` reads a trust
/// store folder as a deployment lays it out (see `Certificates/README.md`)
/// into one; a client builds one in memory from its pinned CA and what the
/// drop box serves, without writing anything.
public struct TrustStore: Sendable {
    public static let caFile = "ca.pem"
    public static let vendorsFolder = "vendors"
    public static let serverFolder = "server"
    public static let revocationFile = "revocations.crl"

    /// Where the store came from, for messages: a folder, or a description
    /// such as "the drop box's /directory".
    public let directory: String
    public let ca: VendorCertificate
    public let revocations: RevocationList?
    /// Certificates by the name they are filed under, parsed but unverified;
    /// one that does not parse is kept as its error, reported when used.
    private let vendors: [String: Result<VendorCertificate, TrustError>]
    private let servers: [String: Result<VendorCertificate, TrustError>]
    /// What the CA-signed certificates of the store say about each key
    /// (by key fingerprint): see `KeyIndex`.
    private let keys: KeyIndex

    /// Problems found while reading the store that make some vendor
    /// unusable (a key certified under two names, a key some revoked
    /// certificate holds): one sentence each, for the operator.
    public var diagnostics: [String] { keys.diagnostics }

    /// Builds and checks a store from bytes: the CA must be a self-signed
    /// Ed25519 CA valid now; the revocation list must be signed by it,
    /// current, and no older than `revocationFloor`.
    ///
    /// - Parameters:
    ///   - vendorCertificates: PEM bytes by the vendor name they are filed
    ///     under; a certificate naming someone else is refused when looked up.
    ///   - source: names the origin in messages.
    public init(
        caPEM: [UInt8], revocationList: [UInt8]?, vendorCertificates: [String: [UInt8]], serverCertificates: [String: [UInt8]] = [:],
        source: String, caSource: String? = nil, revocationSource: String? = nil, now: Date = Date(), revocationFloor: UInt64 = 0
    ) throws(TrustError) {
        let caSource = caSource ?? "the CA certificate of \(source)"
        let ca = try VendorCertificate(pem: String(decoding: caPEM, as: UTF8.self), source: caSource)
        let caKey = try Self.checkAuthority(ca, source: caSource)
        let skew = CertificateVerifier.clockSkew
        guard ca.certificate.notValidBefore <= now.addingTimeInterval(skew), ca.certificate.notValidAfter >= now.addingTimeInterval(-skew) else {
            throw TrustError(
                .expired,
                "the CA certificate \(caSource) is not valid now (valid \(CertificateVerifier.format(ca.certificate.notValidBefore)) to \(CertificateVerifier.format(ca.certificate.notValidAfter)))"
            )
        }
        // No list is not "nothing revoked": it fails closed, as a stale one does.
        let crlSource = revocationSource ?? "the revocation list of \(source)"
        guard let revocationList else {
            throw TrustError(.badRevocationList, "\(source) has no \(Self.revocationFile); without it no revocation could be checked")
        }
        let list = try RevocationList.verified(revocationList, source: crlSource, ca: ca.certificate, caKey: caKey)
        if list.nextUpdate < now.addingTimeInterval(-skew) {
            throw TrustError(
                .staleRevocationList,
                "\(crlSource) expired on \(CertificateVerifier.format(list.nextUpdate)): revocations since then would be missed; fetch the current list from the CA operator"
            )
        }
        guard list.number >= revocationFloor else {
            throw TrustError(
                .staleRevocationList,
                "\(crlSource) is list number \(list.number), older than number \(revocationFloor) seen before: an old list was put back, which would undo revocations"
            )
        }
        func parse(_ files: [String: [UInt8]], _ folder: String) -> [String: Result<VendorCertificate, TrustError>] {
            files.reduce(into: [:]) { parsed, file in
                let where_ = "\(source)/\(folder)/\(file.key).pem"
                parsed[file.key] = Result { () throws(TrustError) in try VendorCertificate(pem: String(decoding: file.value, as: UTF8.self), source: where_) }
            }
        }
        let vendors = parse(vendorCertificates, Self.vendorsFolder)
        let servers = parse(serverCertificates, Self.serverFolder)
        self.directory = source
        self.ca = ca
        self.revocations = list
        self.vendors = vendors
        self.servers = servers
        self.keys = KeyIndex(
            vendors: vendors.compactMap { try? $0.value.get() }, servers: servers.compactMap { try? $0.value.get() }, caKey: ca.certificate.publicKey,
            revocations: list, source: source)
    }

    /// Reads a trust store folder: `ca.pem`, `revocations.crl`,
    /// `vendors/NAME.pem`, `server/NAME.pem`.
    ///
    /// - Parameter revocationFloor: the highest CRL number this reader has
    ///   seen before; an older list is refused, so revocations cannot be
    ///   rolled back by restoring an earlier file.
    public static func load(directory: String, now: Date = Date(), revocationFloor: UInt64 = 0) throws(TrustError) -> TrustStore {
        let caPath = directory + "/" + caFile
        guard let caPEM = FileManager.default.contents(atPath: caPath) else {
            throw TrustError(
                .trustStoreUnreadable, "\(directory) is not a trust store: it has no \(caFile); pass --trust with the folder the CA operator published")
        }
        let crlPath = directory + "/" + revocationFile
        return try TrustStore(
            caPEM: [UInt8](caPEM), revocationList: FileManager.default.contents(atPath: crlPath).map { [UInt8]($0) },
            vendorCertificates: certificateFiles(in: directory + "/" + vendorsFolder),
            serverCertificates: certificateFiles(in: directory + "/" + serverFolder),
            source: directory, caSource: caPath, revocationSource: crlPath, now: now, revocationFloor: revocationFloor)
    }

    /// Loads the store with the revocation-number floor kept in `floorFile`
    /// (missing means none seen yet), and raises the floor to the list just read.
    public static func load(directory: String, now: Date = Date(), floorFile: String) throws(TrustError) -> TrustStore {
        let floor = try RevocationFloor(file: floorFile)
        let store = try load(directory: directory, now: now, revocationFloor: floor.number)
        try floor.raise(to: store)
        return store
    }

    /// `NAME.pem` files of a folder by NAME; a missing folder holds none.
    private static func certificateFiles(in folder: String) -> [String: [UInt8]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".pem") }.reduce(into: [:]) { files, name in
            if let bytes = FileManager.default.contents(atPath: folder + "/" + name) { files[String(name.dropLast(4))] = [UInt8](bytes) }
        }
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
        guard let filed = (purpose.requiredRole == .vendor ? vendors : servers)[name.value] else {
            throw TrustError(.unknownVendor, "no certificate for \"\(name)\" in \(directory) (looked for \(path)); check the name or ask the CA operator")
        }
        let party = try verifier(now: now).verify(try filed.get(), for: purpose)
        guard party.name == name else {
            throw TrustError(.unknownVendor, "\(path) names \"\(party.name)\", not \"\(name)\"; the trust store is misfiled")
        }
        if purpose.requiredRole == .vendor { try keys.check(party) }
        return party
    }

    /// Every vendor certificate filed in the store (unverified), for lookups by fingerprint or key.
    public func vendorCertificates() -> [VendorCertificate] {
        vendors.sorted { $0.key < $1.key }.compactMap { try? $0.value.get() }
    }

    /// Every server certificate filed in the store (unverified).
    public func serverCertificates() -> [VendorCertificate] {
        servers.sorted { $0.key < $1.key }.compactMap { try? $0.value.get() }
    }

    /// The verified vendor whose certificate has `fingerprint`.
    public func party(certificateFingerprint fingerprint: Fingerprint, for purpose: CertificatePurpose, now: Date = Date()) throws(TrustError) -> VerifiedParty
    {
        guard let certificate = vendorCertificates().first(where: { $0.fingerprint == fingerprint }) else {
            throw TrustError(.unknownVendor, "no certificate in \(directory) has fingerprint \(fingerprint); the trust store may be out of date")
        }
        let party = try verifier(now: now).verify(certificate, for: purpose)
        // The certificate names one vendor, so only a revoked key matters here.
        try keys.checkNotRevoked(party)
        return party
    }

    /// The verified vendor whose certificate holds `key` (for finding one's
    /// own certificate, or the vendor a login key belongs to). A key
    /// certified under more than one name belongs to nobody.
    public func party(key: VendorPublicKey, for purpose: CertificatePurpose, now: Date = Date()) throws(TrustError) -> VerifiedParty {
        let candidates = vendorCertificates().filter { (try? $0.vendorKey().fingerprint) == key.fingerprint }
        guard !candidates.isEmpty else {
            throw TrustError(
                .unknownVendor, "no certificate in \(directory) holds the key \(key.fingerprint); ask the CA operator to issue one (sealdrop ca issue)")
        }
        var firstError: TrustError?
        for candidate in candidates {
            do {
                let party = try verifier(now: now).verify(candidate, for: purpose)
                try keys.check(party)
                return party
            } catch {
                firstError = firstError ?? error
            }
        }
        throw firstError!
    }
}
