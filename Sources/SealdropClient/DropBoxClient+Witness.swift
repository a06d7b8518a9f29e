import Foundation
import SealdropCrypto
import SealdropIO
import SealdropLayout
import SealdropLog
import SealdropTrust

/// What a witness check found.
public struct WitnessedHead: Sendable {
    /// The head now kept for this profile.
    public let head: SignedTreeHead
    /// The size of the head seen before, if any.
    public let previousSize: Int?
    /// The head seen before was signed by an earlier certified receipt key:
    /// the operator rotated it, and the new head extends the old one.
    public let keyChanged: Bool
}

extension DropBoxClient {
    /// Every vendor is a witness of the receipt log (spec §7): reads the
    /// head the drop box publishes (with a consistency proof from the last
    /// head this profile saw), checks it is signed by the receipt key's
    /// certificate from the pinned CA and extends that head, and keeps it
    /// in `file`. A head that does not extend it is a `forkedLog` error
    /// naming both heads; the saved file is then left as it was, as evidence.
    ///
    /// Returns nil when the drop box publishes no head and this profile
    /// never saw one (the operator has not certified the receipt key yet);
    /// once a head was seen, a missing one is an error too.
    public func witnessTreeHead(trust: TrustStore, file: String, now: Date = Date()) throws -> WitnessedHead? {
        // One check at a time per profile: two commands cannot interleave
        // read, verify and write, so a newer head is never replaced by an older one.
        do {
            return try FileLock.withExclusiveLock(file + ".lock") { try witnessLocked(trust: trust, file: file, now: now) }
        } catch let error as IOError {
            throw DropBoxError(.localState, "cannot lock \(file).lock: \(error)")
        }
    }

    private func witnessLocked(trust: TrustStore, file: String, now: Date) throws -> WitnessedHead? {
        let saved = try Self.savedHead(file)
        let path = saved.map { $0.size > 0 ? VirtualPath.receiptConsistency(from: $0.size) : .receiptHead } ?? .receiptHead
        let bytes: [UInt8]
        do {
            bytes = try sftp.readFile(path.canonical, maximumSize: PublishedHead.maximumSize)
        } catch let error as DropBoxError where error.code == .notFound {
            guard let saved else { return nil }
            throw DropBoxError(
                .forkedLog,
                "the drop box no longer publishes its receipt log's tree head, though this profile saw \(HeadWitness.describe(saved)) (kept in \(file))")
        }
        let published: PublishedHead
        do {
            published = try JSONDecoder().decode(PublishedHead.self, from: Data(bytes))
        } catch {
            throw DropBoxError(.badReceipt, "the drop box sent a malformed tree head")
        }
        let server: VerifiedParty
        do {
            server = try trust.verifier(now: now).verify(
                try VendorCertificate(pem: published.serverCertificate, source: "the tree head's server certificate"), for: .server)
        } catch {
            throw DropBoxError(.badReceipt, "the tree head's certificate does not verify against the pinned CA: \(UntrustedText.fromServer("\(error)"))")
        }
        // Earlier receipt keys, each certified by the pinned CA for the server
        // role when the saved head was signed: only needed after a rotation.
        var previousKeys = [Ed25519PublicKey]()
        // Those of them certified after the current key: a saved head signed
        // by one means the drop box went back to a retired key.
        var newerKeys = [Ed25519PublicKey]()
        if let saved, !saved.isSigned(by: server.key.signingKey) {
            let then = trust.verifier(now: saved.time)
            for pem in (published.previousCertificates ?? []).prefix(PublishedHead.maximumPreviousCertificates) {
                if let certificate = try? VendorCertificate(pem: pem, source: "an earlier receipt-key certificate"),
                    let party = try? then.verify(certificate, for: .server)
                {
                    previousKeys.append(party.key.signingKey)
                    if certificate.certificate.notValidBefore > server.certificate.certificate.notValidBefore { newerKeys.append(party.key.signingKey) }
                }
            }
        }
        let outcome: HeadWitness.Outcome
        do {
            outcome = try HeadWitness.witness(
                saved: saved, published: published, serverKey: server.key.signingKey, previousKeys: previousKeys, newerKeys: newerKeys)
        } catch {
            switch error.code {
            case .badSignature: throw DropBoxError(.badReceipt, error.message)
            case .fork, .rolledBack: throw DropBoxError(.forkedLog, error.message + "; the saved head is kept in \(file)")
            }
        }
        let kept = outcome.head
        if kept != saved {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do {
                let output = try AtomicOutputFile(destination: file, mode: 0o600, overwrite: true)
                try Array(try encoder.encode(kept)).withUnsafeBytes { try output.write($0) }
                try output.commit()
            } catch {
                throw DropBoxError(.localState, "cannot save the tree head in \(file): \(error)")
            }
        }
        return WitnessedHead(head: kept, previousSize: saved?.size, keyChanged: outcome.keyChanged)
    }

    /// The head saved in `file`, nil if there is none; a garbled file is an
    /// error (starting again from nothing would give the witness away).
    public static func savedHead(_ file: String) throws -> SignedTreeHead? {
        var info = stat()
        guard lstat(file, &info) == 0 else {
            guard errno == ENOENT else { throw DropBoxError(.localState, "cannot read \(file): \(String(cString: strerror(errno)))") }
            return nil
        }
        guard info.st_mode & S_IFMT == S_IFREG, info.st_size <= 64 << 10, let data = FileManager.default.contents(atPath: file),
            let head = try? JSONDecoder().decode(SignedTreeHead.self, from: data)
        else {
            throw DropBoxError(.localState, "\(file) does not hold a saved tree head; remove it only if you know it was corrupted")
        }
        return head
    }
}
