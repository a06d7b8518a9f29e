import Foundation
import SealdropKeys
import SealdropLog
import SealdropTrust

/// The server's receipt key (an Ed25519 key in the data directory, made on
/// first start) and the log export signed with it. The key's certificate
/// (role server) is issued by the CA operator, so an auditor can check
/// signed heads against the CA without trusting the server.
public struct ReceiptLog: Sendable {
    public static let keyFile = "receipt_ed25519_key"

    let dropBox: DropBox
    public let key: VendorIdentity

    /// Loads the receipt key, creating it on first use.
    public init(dropBox: DropBox) throws {
        self.dropBox = dropBox
        let path = dropBox.configuration.dataDirectory + "/" + Self.keyFile
        if !FileManager.default.fileExists(atPath: path) {
            try VendorIdentity.generate(comment: "sealdropd receipt key").write(to: path)
            dropBox.log("created the receipt key \(path)")
        }
        key = try VendorIdentity.load(path: path, passphrase: .none)
    }

    /// Every entry so far, a head signed now over all of them, and the
    /// certificates to check it: what a compliance officer takes away.
    public func export(now: Date = Date()) throws -> LogBundle {
        let trust = try dropBox.trustStore()
        guard let certificate = trust.serverCertificates().first(where: { (try? $0.vendorKey().fingerprint) == key.fingerprint }) else {
            throw TrustError(
                .unknownVendor,
                "no server certificate in \(trust.directory) holds the receipt key \(key.fingerprint); issue one: sealdrop ca issue --role server --name NAME --pubkey \(dropBox.configuration.dataDirectory)/\(Self.keyFile).pub"
            )
        }
        _ = try trust.verifier(now: now).verify(certificate, for: .server)
        let entries = try dropBox.store.logEntries()
        let head = SignedTreeHead.sign(entries: entries, at: now, with: key.signingKey)
        let revocations = (try? String(contentsOfFile: trust.directory + "/" + TrustStore.revocationFile, encoding: .utf8)) ?? ""
        return LogBundle(entries: entries, treeHead: head, serverCertificate: certificate.pem, caCertificate: trust.ca.pem, revocations: revocations)
    }
}
