import Foundation
import SealdropLayout
import SealdropTrust

extension DropBoxClient {
    /// Certificates and revocation lists are a few KiB; a server sending more is refused.
    public static let maximumTrustFileSize = 1 << 20
    /// Vendor certificates fetched for one command (`receive` needs every
    /// sender's; more than this is a directory padded to exhaust us).
    public static let maximumVendorCertificates = 1000

    /// A trust store built in memory from the pinned CA (bytes the caller
    /// read from the profile's pinned file) and `/directory`'s revocation
    /// list and vendor certificates. Nothing fetched is written anywhere;
    /// everything fetched is verified against the pinned CA when used, so
    /// the drop box cannot substitute a key (it can only withhold a newer
    /// list, which the floor and the list's own expiry bound).
    ///
    /// - Parameters:
    ///   - vendors: names to fetch `/directory/NAME.pem` for, each checked
    ///     with `VendorNameRule` first; nil fetches every vendor the
    ///     directory lists (each listed name checked the same way).
    ///   - floor: the highest revocation list number this profile has seen;
    ///     raised (durably) to the list accepted. A failure to raise it is an error.
    public func fetchTrust(pinnedCA: [UInt8], pinnedCASource: String, vendors: [String]?, floor: RevocationFloor?) throws -> TrustStore {
        let names = try vendors ?? listedVendors()
        guard names.count <= Self.maximumVendorCertificates else {
            throw DropBoxError(.tooLarge, "the drop box's /directory lists more than \(Self.maximumVendorCertificates) vendors; it was refused")
        }
        let revocations = try sftp.readFile(
            VirtualPath.directoryFile(name: VirtualPath.revocationListFileName).canonical, maximumSize: Self.maximumTrustFileSize)
        var certificates: [String: [UInt8]] = [:]
        for name in Set(names) {
            if let problem = VendorNameRule.problem(with: name) {
                throw DropBoxError(.invalidName, "\"\(UntrustedText.printable(name, limit: 64))\" is not a vendor name: \(problem)")
            }
            let path = VirtualPath.directoryFile(name: name + VirtualPath.certificateSuffix).canonical
            do {
                certificates[name] = try sftp.readFile(path, maximumSize: Self.maximumTrustFileSize)
            } catch let error as DropBoxError where error.code == .notFound {
                continue  // an unknown vendor: the lookup says so when it matters
            }
        }
        let store = try TrustStore(
            caPEM: pinnedCA, revocationList: revocations, vendorCertificates: certificates, source: "the drop box's /directory",
            caSource: pinnedCASource, revocationSource: "the drop box's /directory/\(VirtualPath.revocationListFileName)",
            revocationFloor: floor?.number ?? 0)
        try floor?.raise(to: store)
        return store
    }

    /// The vendor names `/directory` lists (`NAME.pem`), each checked by
    /// the vendor name rule: a name that breaks it is refused, not used.
    func listedVendors() throws -> [String] {
        try sftp.list(VirtualPath.directory.canonical, maximumEntries: Self.maximumVendorCertificates + 2).compactMap { entry in
            let shown = UntrustedText.fromServer(entry.filename)
            guard let name = String(validating: entry.filename, as: UTF8.self) else {
                throw DropBoxError(.invalidName, "the drop box listed \"\(shown)\" in /directory, which is not UTF-8; nothing was used")
            }
            if name == VirtualPath.caFileName || name == VirtualPath.revocationListFileName { return nil }
            guard name.hasSuffix(VirtualPath.certificateSuffix), VendorNameRule.problem(with: name.dropLast(VirtualPath.certificateSuffix.count)) == nil
            else {
                throw DropBoxError(
                    .invalidName, "the drop box listed \"\(shown)\" in /directory, which is not a vendor certificate (NAME.pem); nothing was used")
            }
            return String(name.dropLast(VirtualPath.certificateSuffix.count))
        }
    }
}
