import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys
import SwiftASN1
import X509
import Crypto

/// The operator's small CA. Its folder holds the private key and a record
/// of what was issued; the public results go to a trust store folder:
///
///     DIR/ca.key               CA private key (OpenSSH Ed25519, mode 0600)
///     DIR/ca.key.pub
///     DIR/ca-state.json        issued certificates, revocations, CRL number
///     DIR/trust/               the trust store to publish (see TrustStore)
public struct CertificateAuthority {
    public static let keyFile = "ca.key"
    public static let stateFile = "ca-state.json"
    public static let trustFolder = "trust"
    /// How long a revocation list stays valid; re-issued on every
    /// revocation and by `sealdrop ca crl`.
    public static let revocationListLifetime: TimeInterval = 90 * 86_400

    public let directory: String
    public let certificate: VendorCertificate
    let key: VendorIdentity
    var state: CAState

    public var trustDirectory: String { directory + "/" + Self.trustFolder }
    public var issued: [IssuedCertificate] { state.issued }

    /// Creates DIR with a new key and a self-signed CA certificate
    /// (CA:true, path length 0, keyCertSign and cRLSign), an empty
    /// revocation list, and the trust store folder.
    public static func create(directory: String, name: String, days: Int, now: Date = Date(), passphrase: String? = nil) throws -> CertificateAuthority {
        guard days > 0 else { throw TrustError(.caOperationFailed, "--days must be at least 1") }
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: directory + "/" + keyFile) {
            throw TrustError(.caOperationFailed, "\(directory) already holds a CA; refusing to replace its key")
        }
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for folder in [TrustStore.vendorsFolder, TrustStore.serverFolder] {
            try fileManager.createDirectory(atPath: directory + "/" + trustFolder + "/" + folder, withIntermediateDirectories: true)
        }
        let key = VendorIdentity.generate(comment: "sealdrop CA")
        let subject = try DistinguishedName {
            OrganizationName("sealdrop")
            CommonName(name)
        }
        let signingKey = try Self.swiftCryptoKey(key)
        let publicKey = Certificate.PublicKey(signingKey.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-CertificateVerifier.clockSkew),
            notValidAfter: now.addingTimeInterval(TimeInterval(days) * 86_400),
            issuer: subject, subject: subject, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(signingKey)
        )
        try key.write(to: directory + "/" + keyFile, passphrase: passphrase)
        var authority = CertificateAuthority(directory: directory, certificate: try VendorCertificate(certificate: certificate), key: key, state: CAState())
        try authority.writePublic(authority.certificate.pem, to: authority.trustDirectory + "/" + TrustStore.caFile)
        try authority.publishRevocationList(now: now)
        return authority
    }

    /// Opens an existing CA folder.
    public static func load(directory: String, passphrase: PassphraseSource = .environmentOrTerminal) throws -> CertificateAuthority {
        let keyPath = directory + "/" + keyFile
        guard FileManager.default.fileExists(atPath: keyPath) else {
            throw TrustError(.caOperationFailed, "\(directory) is not a CA folder (no \(keyFile)); create one with sealdrop ca init --dir \(directory)")
        }
        let key = try VendorIdentity.load(path: keyPath, passphrase: passphrase)
        let certificate = try VendorCertificate.load(path: directory + "/" + trustFolder + "/" + TrustStore.caFile)
        guard try certificate.vendorKey().fingerprint == key.fingerprint else {
            throw TrustError(.caOperationFailed, "\(keyPath) does not belong to the CA certificate in \(directory)/\(trustFolder)")
        }
        let stateData = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + stateFile))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let state = try decoder.decode(CAState.self, from: stateData)
        return CertificateAuthority(directory: directory, certificate: certificate, key: key, state: state)
    }

    /// Issues a certificate binding `name` to `subjectKey` for `role` and
    /// files it in the trust store. An existing certificate for the name is
    /// replaced only with `replace` (rotation; revoke the old one after).
    @discardableResult
    public mutating func issue(
        name: VendorName, subjectKey: VendorPublicKey, role: CertificateRole, days: Int,
        now: Date = Date(), replace: Bool = false
    ) throws -> VendorCertificate {
        guard days > 0 else { throw TrustError(.caOperationFailed, "--days must be at least 1") }
        let notAfter = min(now.addingTimeInterval(TimeInterval(days) * 86_400), certificate.certificate.notValidAfter)
        let path = trustDirectory + "/" + (role == .vendor ? TrustStore.vendorsFolder : TrustStore.serverFolder) + "/" + name.value + ".pem"
        if FileManager.default.fileExists(atPath: path), !replace {
            throw TrustError(.caOperationFailed, "\(path) already exists; pass --replace to issue a new certificate for \(name) (then revoke the old one)")
        }
        let superseded = try checkKeyIsFree(subjectKey, for: name, role: role)
        let subject = try DistinguishedName {
            OrganizationName("sealdrop")
            OrganizationalUnitName(role.rawValue)
            CommonName(name.value)
        }
        let publicKey = Certificate.PublicKey(try Curve25519.Signing.PublicKey(rawRepresentation: subjectKey.ssh.rawKey))
        let caPublicKey = certificate.certificate.publicKey
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(
                keyIdentifier: try certificate.certificate.extensions.subjectKeyIdentifier?.keyIdentifier
                    ?? SubjectKeyIdentifier(hash: caPublicKey).keyIdentifier)
        }
        var allExtensions = extensions
        try allExtensions.append(role.extendedKeyUsageExtension)
        let issued = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-CertificateVerifier.clockSkew), notValidAfter: notAfter,
            issuer: certificate.certificate.subject, subject: subject, extensions: allExtensions,
            issuerPrivateKey: Certificate.PrivateKey(try Self.swiftCryptoKey(key))
        )
        let result = try VendorCertificate(certificate: issued)
        state.issued.append(
            IssuedCertificate(
                serial: Hex.encode(issued.serialNumber.bytes), name: name.value, role: role.rawValue,
                fingerprint: result.fingerprint.description, notAfter: notAfter, revoked: nil, key: subjectKey.fingerprint.description
            ))
        // Recorded first: a certificate on file must always be revocable.
        try saveState()
        try writePublic(result.pem, to: path)
        // The key's revoked certificates under other names leave the trust
        // store (the revocation list still names them): while one is filed,
        // the store refuses the key under every name.
        for record in superseded {
            let folder = record.role == CertificateRole.server.rawValue ? TrustStore.serverFolder : TrustStore.vendorsFolder
            let filed = trustDirectory + "/" + folder + "/" + record.name + ".pem"
            if (try? VendorCertificate.load(path: filed))?.fingerprint.description == record.fingerprint {
                try FileManager.default.removeItem(atPath: filed)
            }
        }
        return result
    }

    /// A key names one party: the CA has no proof that whoever asks holds
    /// the key, so certifying a key it already certified to another name
    /// would let that name be taken over (or make the key ambiguous).
    /// Refused while the other certificate is unrevoked, and for good once
    /// any certificate of the key was revoked for key compromise.
    /// Returns the key's revoked certificates under other names.
    func checkKeyIsFree(_ key: VendorPublicKey, for name: VendorName, role: CertificateRole) throws(TrustError) -> [IssuedCertificate] {
        let fingerprint = key.fingerprint.description
        var superseded = [IssuedCertificate]()
        for record in state.issued where recordedKey(of: record) == fingerprint {
            if let revoked = record.revoked, revoked.reason == RevocationList.Reason.keyCompromise.description {
                throw TrustError(
                    .caOperationFailed,
                    "the key \(fingerprint) was revoked for key compromise (certificate \(record.serial) of \(record.name)); it must never be certified again: ask for a new key"
                )
            }
            if record.revoked == nil, record.name != name.value || record.role != role.rawValue {
                throw TrustError(
                    .caOperationFailed,
                    "the key \(fingerprint) is already certified to \(record.role) \(record.name) (certificate \(record.serial)); one key names one party: revoke that certificate first if the key really changed hands"
                )
            }
            if record.revoked != nil, record.name != name.value || record.role != role.rawValue { superseded.append(record) }
        }
        return superseded
    }

    /// The key fingerprint a record certified; records written before the
    /// key was recorded are looked up in the certificate still on file.
    private func recordedKey(of record: IssuedCertificate) -> String? {
        if let key = record.key { return key }
        let folder = record.role == CertificateRole.server.rawValue ? TrustStore.serverFolder : TrustStore.vendorsFolder
        guard let filed = try? VendorCertificate.load(path: trustDirectory + "/" + folder + "/" + record.name + ".pem"),
            filed.fingerprint.description == record.fingerprint
        else { return nil }
        return try? filed.vendorKey().fingerprint.description
    }

    /// Revokes the certificate with serial `target` (hex), or every
    /// unrevoked certificate issued to the vendor named `target`, and
    /// publishes a new revocation list.
    public mutating func revoke(_ target: String, reason: RevocationList.Reason, now: Date = Date()) throws -> [IssuedCertificate] {
        let serial = target.lowercased().replacingOccurrences(of: ":", with: "")
        var matched = [Int]()
        for (index, record) in state.issued.enumerated() where record.revoked == nil {
            if record.name == target || record.serial == serial { matched.append(index) }
        }
        guard !matched.isEmpty else {
            throw TrustError(
                .caOperationFailed, "no unrevoked certificate has the name or serial \"\(VendorName.printable(target))\"; see \(directory)/\(Self.stateFile)")
        }
        for index in matched {
            state.issued[index].revoked = .init(date: now, reason: reason.description)
        }
        try publishRevocationList(now: now)
        return matched.map { state.issued[$0] }
    }

    /// Signs and writes a fresh revocation list with the next number.
    public mutating func publishRevocationList(now: Date = Date()) throws {
        state.revocationListNumber += 1
        let entries = state.issued.compactMap { record -> RevocationList.Entry? in
            guard let revoked = record.revoked, let serial = Hex.decode(record.serial) else { return nil }
            return RevocationList.Entry(serial: serial, date: revoked.date, reason: RevocationList.Reason(name: revoked.reason) ?? .unspecified)
        }
        let list = RevocationList(
            number: state.revocationListNumber, thisUpdate: now,
            nextUpdate: now.addingTimeInterval(Self.revocationListLifetime), entries: entries
        )
        let der = try list.signed(issuer: certificate.certificate.subject, by: key.signingKey)
        try writePublic(RevocationList.pem(der: der), to: trustDirectory + "/" + TrustStore.revocationFile)
        try saveState()
    }

    static func swiftCryptoKey(_ identity: VendorIdentity) throws -> Curve25519.Signing.PrivateKey {
        try identity.signingKey.seed.withUnsafeBytes { try Curve25519.Signing.PrivateKey(rawRepresentation: $0) }
    }

    private func writePublic(_ text: String, to path: String) throws {
        let file = try AtomicOutputFile(destination: path, mode: 0o644, overwrite: true)
        var sink = file
        try sink.write(Array(text.utf8))
        try file.commit()
    }

    private func saveState() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let file = try AtomicOutputFile(destination: directory + "/" + Self.stateFile, mode: 0o600, overwrite: true)
        var sink = file
        try sink.write([UInt8](try encoder.encode(state)))
        try file.commit()
    }
}

/// One certificate the CA issued, as recorded in `ca-state.json`.
public struct IssuedCertificate: Codable, Sendable {
    public struct Revocation: Codable, Sendable {
        public var date: Date
        public var reason: String
    }

    public var serial: String
    public var name: String
    public var role: String
    public var fingerprint: String
    public var notAfter: Date
    public var revoked: Revocation?
    /// The certified key's fingerprint (absent in records from before it was kept).
    public var key: String? = nil
}

struct CAState: Codable {
    var revocationListNumber: UInt64 = 0
    var issued: [IssuedCertificate] = []
}
