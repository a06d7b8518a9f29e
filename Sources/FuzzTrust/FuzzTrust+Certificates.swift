import Foundation
import SwiftASN1
import X509

@testable import SealdropTrust

/// A PEM certificate: parsed or refused with a TrustError, then checked.
func checkPEMCertificate(_ bytes: [UInt8]) {
    guard let certificate = try? VendorCertificate(pem: String(decoding: bytes, as: UTF8.self), source: "fuzz.pem") else { return }
    checkCertificate(certificate)
}

/// A DER certificate as the certificate library parses it.
func checkDERCertificate(_ bytes: [UInt8]) {
    guard let parsed = try? Certificate(derEncoded: bytes), let certificate = try? VendorCertificate(certificate: parsed) else { return }
    checkCertificate(certificate)
}

/// Properties: a parsed certificate's DER and PEM parse back to the same
/// certificate; reading its roles, key and name answers, never traps; the
/// verifier's every answer for the certificate as given and re-issued by
/// the fuzz CA is sound (see `checkVerdict`); a re-issued certificate that
/// verifies is refused once its serial is the revoked one.
func checkCertificate(_ certificate: VendorCertificate) {
    guard let again = try? Certificate(derEncoded: certificate.der), again == certificate.certificate,
        let fromPEM = try? VendorCertificate(pem: certificate.pem, source: "again.pem"), fromPEM.fingerprint == certificate.fingerprint
    else { fatalError("a parsed certificate does not parse back from its own DER and PEM") }
    _ = try? certificate.roles()
    _ = try? certificate.vendorKey()
    _ = certificate.commonName.map(VendorName.printable)
    for purpose in [CertificatePurpose.recipient, .sender, .server] {
        checkVerdict(certificate, purpose)
        guard let reissued = FuzzCA.reissue(certificate.certificate) else { continue }
        guard checkVerdict(reissued, purpose) else { continue }
        guard let revoked = FuzzCA.reissue(certificate.certificate, serial: Certificate.SerialNumber(bytes: FuzzCA.revokedSerial)) else { continue }
        do {
            _ = try FuzzCA.verifier.verify(revoked, for: purpose)
            fatalError("a certificate with a revoked serial is accepted for \(purpose)")
        } catch {
            guard error.code == .revoked else { fatalError("a revoked certificate is refused as \(error.code), not as revoked") }
        }
    }
}

/// Runs the verifier; when it accepts, everything it promises must hold:
/// issued by the CA's key, not a CA, no critical extension it does not
/// understand, valid now give or take the skew, a well-formed name that is
/// the certificate's common name, the purpose's role, not revoked. Returns
/// whether it accepted.
@discardableResult
func checkVerdict(_ certificate: VendorCertificate, _ purpose: CertificatePurpose) -> Bool {
    let party: VerifiedParty
    do {
        party = try FuzzCA.verifier.verify(certificate, for: purpose)
    } catch {
        _ = error.code
        return false
    }
    let tbs = certificate.certificate
    let skew = CertificateVerifier.clockSkew
    var broken = [String]()
    if !FuzzCA.certificate.certificate.publicKey.isValidSignature(tbs.signature, for: tbs) { broken.append("not signed by the CA") }
    if let constraints = try? tbs.extensions.basicConstraints, case .isCertificateAuthority = constraints { broken.append("a CA") }
    if tbs.extensions.contains(where: { $0.critical && !CertificateVerifier.understoodExtensions.contains($0.oid) }) {
        broken.append("an unknown critical extension")
    }
    if tbs.notValidBefore > FuzzCA.now.addingTimeInterval(skew) || tbs.notValidAfter < FuzzCA.now.addingTimeInterval(-skew) { broken.append("not valid now") }
    if party.name.value != certificate.commonName || VendorName.problem(with: party.name.value) != nil { broken.append("another or a bad name") }
    if !((try? certificate.roles()) ?? []).contains(purpose.requiredRole) { broken.append("without the role") }
    if FuzzCA.revocations.entry(forSerial: Array(tbs.serialNumber.bytes)) != nil { broken.append("revoked") }
    if party.key != (try? certificate.vendorKey()) { broken.append("another key") }
    if !broken.isEmpty { fatalError("the verifier accepted for \(purpose) a certificate that is \(broken.joined(separator: ", "))") }
    return true
}
