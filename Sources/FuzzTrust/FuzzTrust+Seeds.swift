import Crypto
import Foundation
import SwiftASN1
import X509

@testable import SealdropTrust

/// Writes the seed corpus: certificates and lists of the fuzz CA in each
/// form the target reads, named for what they are.
func writeSeeds(to directory: String) {
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    func write(_ name: String, _ selector: UInt8, _ bytes: [UInt8]) {
        guard FileManager.default.createFile(atPath: directory + "/" + name, contents: Data([selector] + bytes)) else {
            fatalError("cannot write the seed \(name) in \(directory)")
        }
    }
    func key(_ byte: UInt8) -> Curve25519.Signing.PublicKey {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: byte, count: 32)).publicKey
    }
    let certificates: [(String, VendorCertificate)] = [
        ("vendor-acme", FuzzCA.issue(name: "acme", role: .vendor, serial: [0x10], key: key(1))),
        ("server-dropbox", FuzzCA.issue(name: "dropbox", role: .server, serial: [0x11], key: key(2))),
        ("no-role", FuzzCA.issue(name: "globex", role: nil, serial: [0x12], key: key(3))),
        ("revoked", FuzzCA.issue(name: "initech", role: .vendor, serial: FuzzCA.revokedSerial, key: key(4))),
        ("expired", FuzzCA.issue(name: "umbrella", role: .vendor, serial: [0x13], key: key(5), days: -1)),
        ("bad-name", FuzzCA.issue(name: "Bad Name!", role: .vendor, serial: [0x14], key: key(6))),
        ("high-serial", FuzzCA.issue(name: "hooli", role: .vendor, serial: [0x80, 0x01], key: key(7))),
        ("ca", FuzzCA.certificate),
    ]
    for (name, certificate) in certificates {
        write("0-pem-\(name)", 0, Array(certificate.pem.utf8))
        write("1-der-\(name)", 1, certificate.der)
    }
    let vendorPEM = Array(certificates[0].1.pem.utf8)
    write("0-pem-two-certificates", 0, vendorPEM + Array(certificates[1].1.pem.utf8))
    write("0-pem-truncated", 0, Array(vendorPEM.prefix(vendorPEM.count / 2)))

    let listDER = FuzzCA.revocationListDER
    let listPEM = Array(RevocationList.pem(der: listDER).utf8)
    write("2-crl-der", 2, listDER)
    write("2-crl-pem", 2, listPEM)
    let empty = RevocationList(number: 1, thisUpdate: FuzzCA.now, nextUpdate: FuzzCA.now.addingTimeInterval(86_400), entries: [])
    let emptyDER = try! empty.signed(issuer: FuzzCA.subject, by: FuzzCA.sodiumKey)
    write("2-crl-empty", 2, emptyDER)
    let many = RevocationList(
        number: 1 << 40, thisUpdate: FuzzCA.now, nextUpdate: Date(timeIntervalSince1970: 2_600_000_000),
        entries: RevocationList.Reason.allCases.enumerated().map { index, reason in
            RevocationList.Entry(serial: [UInt8(index + 1), 0xff], date: FuzzCA.now, reason: reason)
        })
    let manyDER = try! many.signed(issuer: FuzzCA.subject, by: FuzzCA.sodiumKey)
    write("2-crl-every-reason", 2, manyDER)
    for (name, der) in [("list", listDER), ("empty", emptyDER), ("every-reason", manyDER)] {
        guard let root = try? DER.parse(der), case .constructed(let parts) = root.content, let tbs = parts.first(where: { _ in true }) else { continue }
        write("3-tbs-\(name)", 3, Array(tbs.encodedBytes))
    }

    let caPEM = Array(FuzzCA.certificate.pem.utf8)
    write("4-store", 4, caPEM + [0] + listPEM + [0] + vendorPEM + [0] + Array(certificates[1].1.pem.utf8))
    write("4-store-der-list", 4, caPEM + [0] + listDER + [0] + Array(certificates[3].1.pem.utf8) + [0] + Array(certificates[1].1.pem.utf8))
    write("4-store-no-list", 4, caPEM + [0] + [0] + vendorPEM)
}
