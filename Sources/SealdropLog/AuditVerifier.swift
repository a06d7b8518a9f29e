import Foundation
import SealdropCrypto
import SealdropFormat

/// Every check of `sealdrop audit verify` (spec §6) past the certificates:
/// the caller verifies those against the CA and hands over the keys. The
/// log is streamed, one entry at a time: memory holds the Merkle frontier
/// and one record per transfer, never the log.
public struct AuditVerifier {
    /// One thing wrong with the log, with the entry (from 1) it concerns.
    public struct Problem: Equatable, Sendable, CustomStringConvertible {
        public enum Code: String, Sendable, CaseIterable {
            case headSignature = "head-signature"
            case headSize = "head-size"
            case headRoot = "head-root"
            case earlierHeadSignature = "earlier-head-signature"
            case earlierHeadTruncated = "earlier-head-truncated"
            case historyRewritten = "history-rewritten"
            case entryMalformed = "entry-malformed"
            case sequenceGap = "sequence-gap"
            case statementUnreadable = "statement-unreadable"
            case statementNotSigned = "statement-not-signed"
            case statementOtherEnvelope = "statement-other-envelope"
            case transferNeverEnded = "transfer-never-ended"
            case fileNeverDeleted = "file-never-deleted"
            case fileDeletedLate = "file-deleted-late"
        }

        public let code: Code
        /// The entry concerned, from 1, if one is.
        public let entry: Int?
        public let message: String

        public init(_ code: Code, entry: Int? = nil, _ message: String) {
            self.code = code
            self.entry = entry
            self.message = message
        }

        public var description: String { entry.map { "entry \($0): \(message)" } ?? message }
    }

    /// A head the auditor (or a vendor, as a witness) saw earlier, and where it came from.
    public struct EarlierHead: Sendable {
        public var name: String
        public var head: SignedTreeHead

        public init(name: String, head: SignedTreeHead) {
            self.name = name
            self.head = head
        }
    }

    public let serverKey: Ed25519PublicKey
    /// Each vendor's certified signing key, by name, for their signed statements.
    public let vendorKeys: [String: Ed25519PublicKey]
    /// How long after its expiry a transfer's file may still be deleted.
    public let grace: TimeInterval

    public init(serverKey: Ed25519PublicKey, vendorKeys: [String: Ed25519PublicKey], grace: TimeInterval) {
        self.serverKey = serverKey
        self.vendorKeys = vendorKeys
        self.grace = grace
    }

    /// Checks `entries` against `head` and each earlier head; an empty result means sound.
    public func verify<Entries: Sequence>(entries: Entries, head: SignedTreeHead, earlier: [EarlierHead] = []) -> [Problem]
    where Entries.Element == [UInt8] {
        var run = Run(verifier: self, head: head, earlier: earlier)
        for entry in entries { run.add(entry) }
        return run.finish()
    }

    /// One pass over a log: feed entries in order with `add`, then `finish`.
    public struct Run {
        let verifier: AuditVerifier
        let head: SignedTreeHead
        var earlier: [EarlierHead]
        var frontier = MerkleFrontier()
        var problems = [Problem]()
        var published: [String: (entry: Int, expires: Int64, sha256: String?)] = [:]
        var ended: [String: Int64] = [:]
        var deleted: [String: Int64] = [:]

        public init(verifier: AuditVerifier, head: SignedTreeHead, earlier: [EarlierHead]) {
            self.verifier = verifier
            self.head = head
            self.earlier = []
            if !head.isSigned(by: verifier.serverKey) {
                problems.append(Problem(.headSignature, "the tree head's signature does not verify with the server's receipt key"))
            }
            for saved in earlier {
                guard saved.head.isSigned(by: verifier.serverKey) else {
                    problems.append(Problem(.earlierHeadSignature, "the saved head \(saved.name) is not signed by this server's receipt key"))
                    continue
                }
                self.earlier.append(saved)
            }
            checkEarlierHeads()
        }

        public mutating func add(_ bytes: [UInt8]) {
            frontier.append(leafHash: MerkleTree.leafHash(bytes))
            let number = frontier.size
            checkEarlierHeads()
            let entry: LogEntry
            do {
                entry = try LogEntry(decoding: bytes)
            } catch {
                problems.append(Problem(.entryMalformed, entry: number, "not a well-formed log entry (\(error.code.rawValue): \(error.message))"))
                return
            }
            if entry.sequence != Int64(number) {
                problems.append(
                    Problem(.sequenceGap, entry: number, "carries sequence number \(entry.sequence): entries were removed or reordered"))
            }
            guard let id = entry.transfer else { return }
            switch entry.kind {
            case .uploadPublished: published[id] = (number, entry.expires ?? 0, entry.sha256)
            case .delivered, .expired, .revoked: ended[id] = entry.time
            case .deleted: deleted[id] = entry.time
            case .acknowledged: checkAcknowledgment(entry, id: id, number: number)
            case .declared: checkDeclaration(entry, id: id, number: number)
            default: break
            }
        }

        /// Heads whose size the stream has just reached: their root must be this prefix's.
        private mutating func checkEarlierHeads() {
            let size = frontier.size
            earlier.removeAll { saved in
                guard saved.head.size == size else { return false }
                if Hex.encode(frontier.root) != saved.head.root {
                    problems.append(
                        Problem(
                            .historyRewritten,
                            "the first \(size) entries differ from those of the saved head \(saved.name) (root \(saved.head.root)): history was rewritten"
                        ))
                }
                return true
            }
        }

        private mutating func checkAcknowledgment(_ entry: LogEntry, id: String, number: Int) {
            guard let ack = try? JSONDecoder().decode(Acknowledgment.self, from: Data(entry.detail.utf8)) else {
                problems.append(Problem(.statementUnreadable, entry: number, "the acknowledgment of transfer \(id) is unreadable"))
                return
            }
            guard let key = verifier.vendorKeys[entry.actor], ack.isSigned(by: key) else {
                problems.append(
                    Problem(.statementNotSigned, entry: number, "the acknowledgment of transfer \(id) is not signed by \(entry.actor)'s certificate"))
                return
            }
            if ack.transfer != id || published[id].map({ $0.sha256 != ack.ciphertextSHA256 }) ?? true {
                problems.append(
                    Problem(.statementOtherEnvelope, entry: number, "the acknowledgment of transfer \(id) names another envelope than the one published"))
            }
        }

        private mutating func checkDeclaration(_ entry: LogEntry, id: String, number: Int) {
            guard let declaration = try? JSONDecoder().decode(Declaration.self, from: Data(entry.detail.utf8)), declaration.transfer == id else {
                problems.append(Problem(.statementUnreadable, entry: number, "the declaration for transfer \(id) is unreadable"))
                return
            }
            if !(verifier.vendorKeys[entry.actor].map { declaration.isSigned(by: $0) } ?? false) {
                problems.append(Problem(.statementNotSigned, entry: number, "the declaration for transfer \(id) is not signed by \(entry.actor)'s certificate"))
            }
        }

        public mutating func finish() -> [Problem] {
            var result = problems
            if head.size != frontier.size {
                result.append(
                    Problem(.headSize, "the tree head covers \(head.size) entries but the log holds \(frontier.size): entries were added or removed"))
            } else if Hex.encode(frontier.root) != head.root {
                result.append(Problem(.headRoot, "the entries do not hash to the signed root: an entry was edited, removed or reordered"))
            }
            for saved in earlier where saved.head.size > frontier.size {
                result.append(
                    Problem(
                        .earlierHeadTruncated,
                        "the log has \(frontier.size) entries, fewer than the \(saved.head.size) of the saved head \(saved.name): it was truncated"))
            }
            let now = head.timestamp
            // Entries are read, not trusted: an expiry near Int64's ends must
            // not overflow (saturate instead), nor a grace out of range.
            let grace = verifier.grace.isNaN ? 0 : Int64(max(-9e18, min(9e18, verifier.grace * 1000)))
            for (id, upload) in published.sorted(by: { $0.value.entry < $1.value.entry }) {
                let (sum, overflow) = upload.expires.addingReportingOverflow(grace)
                let limit = overflow ? (grace > 0 ? Int64.max : Int64.min) : sum
                if ended[id] == nil, now > limit {
                    result.append(Problem(.transferNeverEnded, entry: upload.entry, "transfer \(id) expired without being delivered, expired or revoked"))
                }
                if ended[id] != nil, deleted[id] == nil {
                    result.append(Problem(.fileNeverDeleted, entry: upload.entry, "transfer \(id) ended but its file was never recorded as deleted"))
                }
                if let gone = deleted[id], gone > limit {
                    let late = Int64((Double(gone) - Double(upload.expires)) / 1000)
                    result.append(Problem(.fileDeletedLate, entry: upload.entry, "transfer \(id) was deleted \(late) s after its expiry"))
                }
            }
            return result
        }
    }
}
