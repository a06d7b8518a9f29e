import Foundation
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropLog
import SealdropStore
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

    /// Where the next receipt key waits for its certificate during a rotation.
    public static let nextKeyFile = keyFile + ".next"

    /// One step of `sealdropd log rotate-key`.
    public enum Rotation: Sendable, Equatable {
        /// A next key was made: the CA operator certifies its public key.
        case madeNextKey(fingerprint: String, publicKey: String)
        /// The certified next key replaced the receipt key: restart the server.
        case rotated(fingerprint: String)
    }

    /// Rotates the receipt key in two steps, never leaving the drop box
    /// without a certified key: the first call makes a next key beside the
    /// current one; once the CA's server certificate for it is in the trust
    /// store, the second call makes it the receipt key (the old private key
    /// is removed; its certificate stays in the trust store, where it proves
    /// the heads signed before). The running server signs with the key it
    /// loaded until it restarts. Vendors accept the first head under the new
    /// key when it extends the one they saw (spec §7).
    public static func rotateKey(dataDirectory: String, trustDirectory: String, now: Date = Date()) throws -> Rotation {
        let current = dataDirectory + "/" + keyFile
        let next = dataDirectory + "/" + nextKeyFile
        guard FileManager.default.fileExists(atPath: current) else {
            throw TrustError(.unknownVendor, "\(current) does not exist: start sealdropd once to make the receipt key before rotating it")
        }
        guard FileManager.default.fileExists(atPath: next) else {
            let key = VendorIdentity.generate(comment: "sealdropd receipt key")
            try key.write(to: next)
            return .madeNextKey(fingerprint: key.fingerprint.description, publicKey: next + ".pub")
        }
        let key = try VendorIdentity.load(path: next, passphrase: .none)
        let trust = try TrustStore.load(directory: trustDirectory, now: now)
        let matching = trust.serverCertificates().filter { (try? $0.vendorKey().fingerprint) == key.fingerprint }
        guard matching.contains(where: { (try? trust.verifier(now: now).verify($0, for: .server)) != nil }) else {
            throw TrustError(
                .unknownVendor,
                "the next receipt key \(key.fingerprint) has no valid server certificate in \(trustDirectory)/server yet; the CA operator runs: sealdrop ca issue --ca-dir CA-DIR --name NEW-NAME --role server --pubkey \(next).pub, then copies CA-DIR/trust/server/NEW-NAME.pem to \(trustDirectory)/server/"
            )
        }
        // The public key first: a crash between the two renames leaves a
        // current key whose .pub is already the next one's, which the next
        // run of this step repairs (the private key is still .next).
        guard rename(next + ".pub", current + ".pub") == 0, rename(next, current) == 0 else {
            throw TrustError(.unknownVendor, "cannot put \(next) in place of \(current): \(String(cString: strerror(errno)))")
        }
        return .rotated(fingerprint: key.fingerprint.description)
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
        let trust = try dropBox.trustStore()
        let certificate = try certificate(trust, now: now)
        return PublishedHead.make(
            leafHashes: try dropBox.store.logLeafHashes(), from: from, at: now, key: key.signingKey, certificate: certificate.pem,
            previousCertificates: previousCertificates(trust))
    }

    /// The trust store's other server certificates, newest first: those of
    /// receipt keys used before a rotation (`sealdropd log rotate-key`), so
    /// vendors and auditors can check heads they kept from before it. Each
    /// reader verifies them against its own pinned CA.
    func previousCertificates(_ trust: TrustStore) -> [String] {
        let others = trust.serverCertificates().filter { (try? $0.vendorKey().fingerprint) != key.fingerprint }
        return others.sorted { $0.certificate.notValidBefore > $1.certificate.notValidBefore }.prefix(PublishedHead.maximumPreviousCertificates)
            .map(\.pem)
    }

    /// Entries read from the store at once by `export`.
    static let exportPage = 10_000

    /// Writes every entry so far, a head signed now over all of them, and
    /// the certificates to check it (spec §4: JSON lines) to `path`: what a
    /// compliance officer takes away. The log is read twice, a page at a
    /// time, never held: once to sign the head, once to write the entries
    /// it covers (entries appended meanwhile are left for the next export).
    /// The file appears complete or not at all. Returns the head.
    @discardableResult
    public func export(to path: String, now: Date = Date()) throws -> SignedTreeHead {
        let trust = try dropBox.trustStore()
        let certificate = try certificate(trust, now: now)
        var frontier = MerkleFrontier()
        try forEachEntry(upTo: Int.max) { frontier.append(leafHash: MerkleTree.leafHash($0)) }
        let head = SignedTreeHead.sign(size: frontier.size, root: frontier.root, at: now, with: key.signingKey)
        let revocations = (try? String(contentsOfFile: trust.directory + "/" + TrustStore.revocationFile, encoding: .utf8)) ?? ""
        var header = LogExport.Header(
            treeHead: head, serverCertificate: certificate.pem, caCertificate: trust.ca.pem, revocations: revocations,
            vendorCertificates: trust.vendorCertificates().map(\.pem))
        let previous = previousCertificates(trust)
        header.previousServerCertificates = previous.isEmpty ? nil : previous

        let file = try AtomicOutputFile(destination: path, mode: 0o600, overwrite: true)
        var buffer = header.encoded()
        buffer.append(0x0A)
        var written = MerkleFrontier()
        try forEachEntry(upTo: head.size) { entry in
            written.append(leafHash: MerkleTree.leafHash(entry))
            LogExport.appendEntryLine(entry, to: &buffer)
            if buffer.count >= 1 << 20 {
                try buffer.withUnsafeBytes { try file.write($0) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try buffer.withUnsafeBytes { try file.write($0) }
        // The log is append-only: the entries written must be the ones signed.
        guard written.size == head.size, written.root == frontier.root else {
            throw StoreError(.database, "the receipt log changed while it was exported (its first \(head.size) entries differ between two reads)")
        }
        try file.commit()
        return head
    }

    /// Each entry from the first, in order, up to `limit` entries, a page at a time.
    private func forEachEntry(upTo limit: Int, _ body: ([UInt8]) throws -> Void) throws {
        var offset = 0
        while offset < limit {
            let page = try dropBox.store.logEntries(from: offset, limit: min(Self.exportPage, limit - offset))
            if page.isEmpty { return }
            for entry in page { try body(entry) }
            offset += page.count
        }
    }
}
