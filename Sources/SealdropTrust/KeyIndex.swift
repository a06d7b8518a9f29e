import Foundation
import SealdropFormat
import SealdropKeys
import X509

/// Who the CA-signed certificates of a trust store say each key belongs
/// to, built once when the store is read.
///
/// A vendor is its key: a login, a signature or an `authorized_keys` line
/// carries only the key, so a key certified under two names cannot say
/// which vendor it is, and a key once revoked (compromised, or simply
/// withdrawn) must not live on under another name. Both rules look at every
/// certificate the store holds that the pinned CA signed, whatever its
/// dates: an unsigned file proves nothing, and a stray certificate is
/// resolved by the operator removing it, not by guessing.
struct KeyIndex: Sendable {
    /// The vendor names certified with each key.
    private let names: [Fingerprint: Set<String>]
    /// For each key some revoked certificate holds: that certificate's
    /// name, serial and revocation entry.
    private let revoked: [Fingerprint: (name: String, serial: String, entry: RevocationList.Entry)]
    let diagnostics: [String]

    init(vendors: [VendorCertificate], servers: [VendorCertificate], caKey: Certificate.PublicKey, revocations: RevocationList?, source: String) {
        func signed(_ certificate: VendorCertificate) -> Bool {
            caKey.isValidSignature(certificate.certificate.signature, for: certificate.certificate)
        }
        var names = [Fingerprint: Set<String>]()
        var revoked = [Fingerprint: (name: String, serial: String, entry: RevocationList.Entry)]()
        let filed = vendors.map { ($0, true) } + servers.map { ($0, false) }
        for (certificate, isVendor) in filed where signed(certificate) {
            guard let key = try? certificate.vendorKey().fingerprint else { continue }
            let name = certificate.commonName ?? "?"
            if isVendor { names[key, default: []].insert(name) }
            let serial = Array(certificate.certificate.serialNumber.bytes)
            if let entry = revocations?.entry(forSerial: serial), revoked[key] == nil {
                revoked[key] = (name, Hex.encode(serial), entry)
            }
        }
        self.names = names
        self.revoked = revoked
        var diagnostics = [String]()
        for (key, holders) in names.sorted(by: { $0.key.description < $1.key.description }) {
            if holders.count > 1 {
                let list = holders.sorted().map { "\"\(VendorName.printable($0))\"" }.joined(separator: ", ")
                diagnostics.append(
                    "\(source): the key \(key) is certified under several names (\(list)); none of them can log in or be trusted until the CA operator revokes the wrong certificates and removes their files"
                )
            }
            if let withdrawn = revoked[key], holders.contains(where: { $0 != withdrawn.name }) {
                let others = holders.subtracting([withdrawn.name]).sorted().map { "\"\(VendorName.printable($0))\"" }.joined(separator: ", ")
                diagnostics.append(
                    "\(source): the key \(key) of the revoked certificate \(withdrawn.serial) (\"\(VendorName.printable(withdrawn.name))\", \(withdrawn.entry.reason)) is also certified for \(others); a revoked key is refused under every name"
                )
            }
        }
        self.diagnostics = diagnostics
    }

    /// Throws unless `party`'s key is certified to it alone and held by no
    /// revoked certificate.
    func check(_ party: VerifiedParty) throws(TrustError) {
        try checkNotRevoked(party)
        let holders = names[party.key.fingerprint] ?? []
        if holders.count > 1 {
            let list = holders.sorted().map { "\"\(VendorName.printable($0))\"" }.joined(separator: ", ")
            throw TrustError(
                .ambiguousKey,
                "the key \(party.key.fingerprint) is certified under several names (\(list)), so it cannot say which vendor it is; it is refused for all of them until the CA operator revokes the wrong certificates"
            )
        }
    }

    /// Throws when a revoked certificate the store holds has `party`'s key
    /// (revocation follows the key, not only the certificate).
    func checkNotRevoked(_ party: VerifiedParty) throws(TrustError) {
        if let withdrawn = revoked[party.key.fingerprint] {
            throw TrustError(
                .revoked,
                "the key \(party.key.fingerprint) of \"\(party.name)\" was revoked in certificate \(withdrawn.serial) (\"\(VendorName.printable(withdrawn.name))\", \(CertificateVerifier.format(withdrawn.entry.date)), \(withdrawn.entry.reason)); a revoked key is refused under every name"
            )
        }
    }
}
