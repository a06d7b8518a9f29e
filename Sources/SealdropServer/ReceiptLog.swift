import Foundation
import SealdropFormat
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
    public var key: VendorIdentity { dropBox.receiptKey }

    public init(dropBox: DropBox) {
        self.dropBox = dropBox
    }

    /// Loads the receipt key from `directory`, creating it on first use.
    static func loadOrCreateKey(in directory: String, log: (String) -> Void) throws -> VendorIdentity {
        let path = directory + "/" + keyFile
        if !FileManager.default.fileExists(atPath: path) {
            try VendorIdentity.generate(comment: "sealdropd receipt key").write(to: path)
            log("created the receipt key \(path)")
        }
        return try VendorIdentity.load(path: path, passphrase: .none)
    }

    /// Why no tree head can be signed yet, with the exact commands that fix
    /// it, or nil when the receipt key has a valid server certificate. Told
    /// at `sealdropd serve` start: until then vendors cannot witness the log.
    public func certificationProblem(now: Date = Date()) -> String? {
        do {
            _ = try certificate(try dropBox.trustStore(), now: now)
            return nil
        } catch {
            let trust = dropBox.configuration.trustDirectory
            return
                "the receipt key \(key.fingerprint) has no valid server certificate (\(error)); no tree head or receipt can be signed and vendors cannot witness the log until the CA operator runs: sealdrop ca issue --ca-dir CA-DIR --name receipts --role server --pubkey \(dropBox.configuration.dataDirectory)/\(Self.keyFile).pub && cp CA-DIR/trust/server/receipts.pem \(trust)/server/"
        }
    }

    /// The receipt-key certificate in the trust store, verified for the server role.
    func certificate(_ trust: TrustStore, now: Date) throws -> VendorCertificate {
        guard let certificate = trust.serverCertificates().first(where: { (try? $0.vendorKey().fingerprint) == key.fingerprint }) else {
            throw TrustError(
                .unknownVendor,
                "no server certificate in \(trust.directory) holds the receipt key \(key.fingerprint); issue one: sealdrop ca issue --role server --name NAME --pubkey \(dropBox.configuration.dataDirectory)/\(Self.keyFile).pub"
            )
        }
        _ = try trust.verifier(now: now).verify(certificate, for: .server)
        return certificate
    }

    /// A transfer's receipt: its entries, each with an inclusion proof in a
    /// tree head signed now over the whole log, and the server certificate.
    func receipt(for transferID: String, now: Date = Date()) throws -> TransferReceipt {
        let trust = try dropBox.trustStore()
        let certificate = try certificate(trust, now: now)
        // Leaf hashes are kept by the store, the transfer's entries found by
        // its index: the log is neither re-read nor rehashed for a receipt.
        let hashes = try dropBox.store.logLeafHashes()
        let head = SignedTreeHead.sign(leafHashes: hashes, at: now, with: key.signingKey)
        dropBox.keepLogHead(head)
        // Entries appended after the hashes were read are outside this head.
        let included = try dropBox.store.logEntries(transfer: transferID).filter { $0.index >= 0 && $0.index < hashes.count }.map { item in
            TransferReceipt.Entry(
                index: item.index, entry: Base64.encode(item.entry),
                proof: MerkleTree.inclusionProof(index: item.index, hashes[...]).map { Hex.encode($0) })
        }
        return TransferReceipt(transfer: transferID, entries: included, treeHead: head, serverCertificate: certificate.pem)
    }

    /// `/receipts/head` (`from` nil) or `/receipts/consistency-N.json`: a
    /// head signed now over the whole log, with the proof from size N.
    func publishedHead(from: Int?, now: Date = Date()) throws -> PublishedHead {
        let certificate = try certificate(try dropBox.trustStore(), now: now)
        let published = PublishedHead.make(
            leafHashes: try dropBox.store.logLeafHashes(), from: from, at: now, key: key.signingKey, certificate: certificate.pem)
        dropBox.keepLogHead(published.treeHead)
        return published
    }

    /// Every entry so far, a head signed now over all of them, and the
    /// certificates to check it: what a compliance officer takes away.
    public func export(now: Date = Date()) throws -> LogBundle {
        let trust = try dropBox.trustStore()
        let certificate = try certificate(trust, now: now)
        let entries = try dropBox.store.logEntries()
        let head = SignedTreeHead.sign(entries: entries, at: now, with: key.signingKey)
        dropBox.keepLogHead(head)
        let revocations = (try? String(contentsOfFile: trust.directory + "/" + TrustStore.revocationFile, encoding: .utf8)) ?? ""
        return LogBundle(
            entries: entries, treeHead: head, serverCertificate: certificate.pem, caCertificate: trust.ca.pem, revocations: revocations,
            vendorCertificates: trust.vendorCertificates().map(\.pem))
    }
}
