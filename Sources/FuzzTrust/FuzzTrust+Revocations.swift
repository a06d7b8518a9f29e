import Foundation
import SealdropCrypto
import X509

@testable import SealdropTrust

/// A revocation list as a trust store holds it: refused with a TrustError
/// unless the fuzz CA signed it, then checked as `checkList` says.
func checkRevocationList(_ bytes: [UInt8]) {
    do {
        let list = try RevocationList.verified(bytes, source: "fuzz.crl", ca: FuzzCA.certificate.certificate, caKey: FuzzCA.sodiumKey.publicKey)
        checkList(list)
    } catch {
        guard error.code == .badRevocationList else { fatalError("a revocation list is refused as \(error.code)") }
    }
}

/// The input as the signed part of a list, wrapped and signed by the fuzz
/// CA: the parser then reads every field the fuzzer writes.
func checkSignedRevocationList(tbs: [UInt8]) {
    var writer = DERWriter()
    writer.constructed(DERTag.sequence) { list in
        list.raw(tbs)
        list.constructed(DERTag.sequence) { $0.node(DERTag.objectIdentifier, KnownOID.ed25519) }
        list.node(DERTag.bitString, [0] + FuzzCA.sodiumKey.signature(for: tbs))
    }
    checkRevocationList(writer.bytes)
}

/// Properties of a list that verified: each entry is found by its serial,
/// with or without leading zero bytes; the list signed again by the CA
/// verifies to the same number, times (to the second, as DER holds them)
/// and entries; a list with one bit of its signed part changed is refused.
func checkList(_ list: RevocationList) {
    for entry in list.entries {
        guard list.entry(forSerial: entry.serial) != nil, list.entry(forSerial: [0, 0] + entry.serial) != nil else {
            fatalError("a revoked serial is not found in its own list")
        }
    }
    guard let der = try? list.signed(issuer: FuzzCA.subject, by: FuzzCA.sodiumKey) else { return }
    let again: RevocationList
    do {
        again = try RevocationList.verified(der, source: "again.crl", ca: FuzzCA.certificate.certificate, caKey: FuzzCA.sodiumKey.publicKey)
    } catch {
        // Dates the DER time types cannot hold are refused on the way back.
        let years = [list.thisUpdate, list.nextUpdate] + list.entries.map(\.date)
        if years.contains(where: { !(Date(timeIntervalSince1970: -62_135_596_800)...Date(timeIntervalSince1970: 253_402_300_799)).contains($0) }) {
            return
        }
        fatalError("a list signed again does not verify: \(error.message)")
    }
    func seconds(_ date: Date) -> Double { date.timeIntervalSince1970.rounded(.down) }
    guard again.number == list.number, seconds(again.thisUpdate) == seconds(list.thisUpdate), seconds(again.nextUpdate) == seconds(list.nextUpdate),
        again.entries.map(\.serial) == list.entries.map(\.serial), again.entries.map(\.reason) == list.entries.map(\.reason),
        again.entries.map({ seconds($0.date) }) == list.entries.map({ seconds($0.date) })
    else { fatalError("a list signed again reads back as another list") }
    var bent = der
    bent[bent.count / 3] ^= 0x01
    if (try? RevocationList.verified(bent, source: "bent.crl", ca: FuzzCA.certificate.certificate, caKey: FuzzCA.sodiumKey.publicKey)) != nil {
        fatalError("a list with a bit changed still verifies")
    }
}

/// A trust store from bytes: NUL separates the CA PEM, the list and then
/// vendor certificates (filed as v0, v1...). Properties: it is built or
/// refused with a TrustError; once built, looking up any filed name for any
/// purpose answers with a party whose name is the one filed, or an error.
func checkTrustStore(_ bytes: [UInt8]) {
    let parts = bytes.split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
    guard parts.count >= 2 else { return }
    var vendors = [String: [UInt8]]()
    for (index, part) in parts.dropFirst(2).enumerated() { vendors["v\(index)"] = part }
    let store: TrustStore
    do {
        store = try TrustStore(
            caPEM: parts[0], revocationList: parts[1], vendorCertificates: vendors, serverCertificates: ["s0": parts.last!], source: "fuzz",
            now: FuzzCA.now)
    } catch {
        _ = error.code
        return
    }
    for name in vendors.keys.sorted() + ["s0"] {
        guard let vendorName = try? VendorName(name) else { continue }
        for purpose in [CertificatePurpose.recipient, .sender, .server] {
            if let party = try? store.party(named: vendorName, for: purpose, now: FuzzCA.now), party.name != vendorName {
                fatalError("the store returned \(party.name) for the name \(name)")
            }
        }
    }
    _ = store.vendorCertificates()
    _ = store.serverCertificates()
}
