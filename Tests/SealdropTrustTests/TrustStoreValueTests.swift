import Foundation
import SealdropKeys
@testable import SealdropTrust
import Testing
import TestSupport

/// The trust store as a value built from bytes, and the revocation floor
/// that keeps an old list from coming back.
@Suite struct TrustStoreValueTests {
    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test func aStoreFromBytesMatchesTheFolderItCameFrom() throws {
        var ca = try TestAuthority()
        let (acme, _) = try ca.issue("acme-lis")
        let folder = try ca.store()
        let fromBytes = try TrustStore(
            caPEM: bytes(ca.trustDirectory + "/ca.pem"), revocationList: bytes(ca.trustDirectory + "/revocations.crl"),
            vendorCertificates: ["acme-lis": bytes(ca.trustDirectory + "/vendors/acme-lis.pem")], source: "memory")
        #expect(fromBytes.ca.fingerprint == folder.ca.fingerprint)
        #expect(try fromBytes.party(named: VendorName("acme-lis"), for: .recipient).certificate.fingerprint == acme.fingerprint)
        #expect(fromBytes.vendorCertificates().map(\.fingerprint) == folder.vendorCertificates().map(\.fingerprint))
    }

    @Test func aCertificateFiledUnderAnotherNameOrGarbledIsRefusedWhenUsed() throws {
        var ca = try TestAuthority()
        try ca.issue("acme-lis")
        try ca.issue("evil-corp")
        let store = try TrustStore(
            caPEM: bytes(ca.trustDirectory + "/ca.pem"), revocationList: bytes(ca.trustDirectory + "/revocations.crl"),
            vendorCertificates: ["acme-lis": bytes(ca.trustDirectory + "/vendors/evil-corp.pem"), "broken": Array("junk".utf8)], source: "memory")
        #expect(throws: TrustError(.unknownVendor, "")) { try store.party(named: VendorName("acme-lis"), for: .recipient) }
        #expect(throws: TrustError(.malformedCertificate, "")) { try store.party(named: VendorName("broken"), for: .recipient) }
        #expect(throws: TrustError(.unknownVendor, "")) { try store.party(named: VendorName("nobody"), for: .recipient) }
    }

    @Test func aVendorCertificateCannotBeTheAnchorAndAListIsRequired() throws {
        var ca = try TestAuthority()
        try ca.issue("acme-lis")
        #expect(throws: TrustError(.notCertificateAuthority, "")) {
            try TrustStore(
                caPEM: bytes(ca.trustDirectory + "/vendors/acme-lis.pem"), revocationList: bytes(ca.trustDirectory + "/revocations.crl"),
                vendorCertificates: [:], source: "memory")
        }
        #expect(throws: TrustError(.badRevocationList, "")) {
            try TrustStore(caPEM: bytes(ca.trustDirectory + "/ca.pem"), revocationList: nil, vendorCertificates: [:], source: "memory")
        }
    }

    @Test func theFloorRisesDurablyAndAFailureToRecordItIsAnError() throws {
        var ca = try TestAuthority()
        try ca.issue("acme-lis")
        _ = try ca.authority.revoke("acme-lis", reason: .keyCompromise)
        let floorFile = ca.directory.file("floor")
        _ = try TrustStore.load(directory: ca.trustDirectory, floorFile: floorFile)
        #expect(try RevocationFloor(file: floorFile).number == 2)

        // A floor that cannot be written (its name is taken by a folder) is an error, not ignored.
        let blocked = ca.directory.file("blocked")
        try FileManager.default.createDirectory(atPath: blocked, withIntermediateDirectories: false)
        #expect(throws: TrustError(.trustStoreUnreadable, "")) { try TrustStore.load(directory: ca.trustDirectory, floorFile: blocked) }

        // A garbled floor is not read as zero.
        _ = try ca.directory.write(Array("two\n".utf8), to: "garbled")
        #expect(throws: TrustError(.trustStoreUnreadable, "")) { try TrustStore.load(directory: ca.trustDirectory, floorFile: ca.directory.file("garbled")) }
    }
}
