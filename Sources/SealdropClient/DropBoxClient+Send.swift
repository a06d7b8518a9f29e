import Foundation
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropLayout
import SealdropLog
import SealdropTrust

/// What `send` uploaded.
public struct SentTransfer: Sendable {
    public let header: EnvelopeHeader
    public let envelopeSize: UInt64
    public let plaintextSize: UInt64
    /// SHA-256 of the sealed file, as the drop box records it.
    public let sha256: [UInt8]
    /// The drop box's answer to the upload, sanitised.
    public let answer: String
}

extension DropBoxClient {
    /// The name an upload gets in `/outbox/NAME/`; the drop box names the
    /// transfer by the envelope's id.
    static let uploadName = "upload.sealdrop"

    /// Seals `source` for `recipient` and uploads it in one streaming pass
    /// (nothing is written to this machine's disk). On any failure the drop
    /// box publishes nothing: the upload is never closed.
    public func send<Source: ByteSource>(
        from source: inout Source, to recipient: VerifiedParty, request: SealRequest, progress: ((UInt64) -> Void)? = nil
    ) throws -> SentTransfer {
        let path = VirtualPath.outboxFile(vendor: recipient.name.value, name: Self.uploadName).canonical
        let handle = try sftp.open(path, flags: [.write, .create, .truncate])
        let upload = SFTPUploadSink(client: sftp, handle: handle)
        upload.progress = progress
        // The sealer hashes every byte it writes for the trailer (format v2):
        // its whole-envelope hash is the one the drop box records, with no
        // second pass over the bytes.
        // The SFTP framing and libssh's encryption run on a second thread,
        // beside the sealing on this one. On a failure the sink is dropped
        // unfinished, and the upload is never closed.
        var sink = WriteBehindSink(upload)
        let sealed = try EnvelopeSealer.seal(from: &source, to: &sink, sender: identity, request: request)
        try sink.finish()
        try upload.finish()
        let answer = try sftp.close(handle)
        return SentTransfer(
            header: sealed.header, envelopeSize: sealed.envelopeSize, plaintextSize: sealed.plaintextSize, sha256: sealed.envelopeSHA256,
            answer: answer)
    }

    /// Uploads a signed data-minimisation declaration; returns the drop box's answer.
    public func declare(_ declaration: Declaration) throws -> String {
        let id = try Self.checked(declaration.transfer)
        return try sftp.writeFile(VirtualPath.declaration(transferID: id).canonical, [UInt8](try JSONEncoder().encode(declaration)))
    }

    /// Signs and uploads the acknowledgment of a received transfer.
    public func acknowledge(_ id: String, ciphertextSHA256: [UInt8], plaintextSHA256: [UInt8]) throws {
        let id = try Self.checked(id)
        let ack = Acknowledgment.sign(
            transfer: id, ciphertextSHA256: ciphertextSHA256, plaintextSHA256: plaintextSHA256, at: Date(), with: identity.signingKey)
        _ = try sftp.writeFile(VirtualPath.acknowledgment(transferID: id).canonical, [UInt8](try JSONEncoder().encode(ack)))
    }
}

/// A transfer's receipt, verified against the pinned CA.
public struct VerifiedReceipt: Sendable {
    public let receipt: TransferReceipt
    /// The exact bytes the drop box served (what a compliance officer keeps).
    public let bytes: [UInt8]
    /// The server certificate that signed the tree head.
    public let server: VerifiedParty
}

extension DropBoxClient {
    /// A receipt is a few KiB per entry; this is far beyond any real one.
    public static let maximumReceiptSize = 16 << 20

    /// Fetches `/receipts/ID.json` and checks it: the server certificate
    /// chains to the pinned CA, the tree head is signed by it, every entry
    /// is included, and the receipt is for `id`. `problems` lists each failure.
    public func receipt(_ id: String, trust: TrustStore) throws -> VerifiedReceipt {
        let id = try Self.checked(id)
        let bytes = try sftp.readFile(VirtualPath.receiptFile(transferID: id).canonical, maximumSize: Self.maximumReceiptSize)
        let receipt: TransferReceipt
        do {
            receipt = try JSONDecoder().decode(TransferReceipt.self, from: Data(bytes))
        } catch {
            throw DropBoxError(.badReceipt, "the drop box sent a malformed receipt")
        }
        let server = try trust.verifier().verify(
            try VendorCertificate(pem: receipt.serverCertificate, source: "the receipt's server certificate"), for: .server)
        var problems = receipt.inclusionProblems()
        if !receipt.treeHead.isSigned(by: server.key.signingKey) { problems.insert("the tree head is not signed by \(server.name)", at: 0) }
        if receipt.transfer != id { problems.append("the receipt is for transfer \(UntrustedText.fromServer(receipt.transfer)), not \(id)") }
        problems += Self.subjectProblems(receipt, transfer: id)
        guard problems.isEmpty else {
            throw DropBoxError(.badReceipt, "the receipt does not verify: " + problems.map { UntrustedText.fromServer($0) }.joined(separator: "; "))
        }
        return VerifiedReceipt(receipt: receipt, bytes: bytes, server: server)
    }

    /// `receipt(_:trust:)`, tied to the history this profile witnessed: the
    /// receipt's tree head must be signed by the receipt key that signed
    /// `witnessed` (the head this profile saw and saved, checked against
    /// the pinned CA and every head before it), and be the same head or be
    /// proven consistent with it by consistency proofs the drop box signs
    /// with that key. A receipt from a forked log, or signed by another drop
    /// box's key from the same CA, is a `forkedLog` error: it is evidence of
    /// a split view, not a record of this drop box.
    public func receipt(_ id: String, trust: TrustStore, witnessed: SignedTreeHead?) throws -> VerifiedReceipt {
        let verified = try receipt(id, trust: trust)
        let head = verified.receipt.treeHead
        guard let witnessed, witnessed.size > 0 else {
            throw DropBoxError(
                .badReceipt,
                "this profile has witnessed no head of the drop box's receipt log, so the receipt (\(HeadWitness.describe(head))) cannot be tied to it"
            )
        }
        let key = verified.server.key.signingKey
        guard witnessed.isSigned(by: key) else {
            throw DropBoxError(
                .forkedLog,
                "the receipt is signed by \(verified.server.name), not by the receipt key whose log this profile witnessed (\(HeadWitness.describe(witnessed))): another drop box's receipt, or a split view"
            )
        }
        do {
            try proveConsistent(head, witnessed, key: key, rounds: 4)
        } catch let error as DropBoxError where error.code == .forkedLog {
            throw DropBoxError(
                .forkedLog,
                "the receipt's tree head \(HeadWitness.describe(head)) is not part of the history this profile witnessed (\(HeadWitness.describe(witnessed))): \(error.message)"
            )
        }
        return verified
    }

    /// Proves that of two heads signed by `key` the smaller is a prefix of
    /// the larger: same size needs the same root; otherwise the drop box's
    /// `consistency-N.json` from the smaller size must lead, by a verified
    /// proof, to the larger head or to a later head the larger one is in
    /// turn proven a prefix of (the log may grow between requests).
    func proveConsistent(_ one: SignedTreeHead, _ other: SignedTreeHead, key: Ed25519PublicKey, rounds: Int) throws {
        let (small, large) = one.size <= other.size ? (one, other) : (other, one)
        if small.size == large.size {
            guard small.root == large.root else { throw DropBoxError(.forkedLog, "two heads of size \(small.size) have different roots") }
            return
        }
        guard small.size > 0 else { return }
        guard rounds > 0 else {
            throw DropBoxError(.forkedLog, "the drop box's log kept growing while the heads were compared; nothing proved them consistent (try again)")
        }
        let bytes: [UInt8]
        do {
            bytes = try sftp.readFile(VirtualPath.receiptConsistency(from: small.size).canonical, maximumSize: PublishedHead.maximumSize)
        } catch let error as DropBoxError where error.code == .notFound {
            throw DropBoxError(.forkedLog, "the drop box gives no consistency proof from size \(small.size)")
        }
        guard let published = try? JSONDecoder().decode(PublishedHead.self, from: Data(bytes)) else {
            throw DropBoxError(.forkedLog, "the drop box sent a malformed consistency proof from size \(small.size)")
        }
        let current: SignedTreeHead
        do {
            current = try HeadWitness.witness(saved: small, published: published, serverKey: key).head
        } catch {
            throw DropBoxError(.forkedLog, error.message)
        }
        if current.size < large.size {
            throw DropBoxError(
                .forkedLog, "the drop box's log (\(HeadWitness.describe(current))) is shorter than a head it signed, \(HeadWitness.describe(large))")
        }
        // `small` is a prefix of `current`; `large` must be one too.
        try proveConsistent(large, current, key: key, rounds: rounds - 1)
    }

    /// What makes a receipt's entries not a record of transfer `id`, even
    /// when each is included in a genuinely signed head: an entry about
    /// another transfer (or none) passed off as this one's, an entry shown
    /// twice, entries out of log order, or no entry at all.
    static func subjectProblems(_ receipt: TransferReceipt, transfer id: String) -> [String] {
        guard !receipt.entries.isEmpty else { return ["the receipt holds no entry about transfer \(id)"] }
        var problems = [String]()
        var seen = Set<Int>()
        var previous = Int.min
        for item in receipt.entries {
            guard seen.insert(item.index).inserted else {
                problems.append("entry \(item.index &+ 1) is shown twice")
                continue
            }
            if item.index < previous { problems.append("entry \(item.index &+ 1) is out of log order") }
            previous = max(previous, item.index)
            guard let bytes = Base64.decode(item.entry) else {
                problems.append("entry \(item.index &+ 1) is not Base64")
                continue
            }
            do {
                let entry = try LogEntry(decoding: bytes)
                if entry.transfer != id { problems.append("entry \(item.index &+ 1) is not about transfer \(id)") }
            } catch {
                problems.append("entry \(item.index &+ 1) is not a valid log entry: \(error.message)")
            }
        }
        return problems
    }
}
