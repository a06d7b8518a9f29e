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
        /// Earlier receipt keys the CA certified when this head was signed
        /// (the caller verified them): a head from before a key rotation.
        public var previousKeys: [Ed25519PublicKey]

        public init(name: String, head: SignedTreeHead, previousKeys: [Ed25519PublicKey] = []) {
            self.name = name
            self.head = head
            self.previousKeys = previousKeys
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
        /// One small record per transfer, keyed by its id as two words: a
        /// log of a million entries keeps no string per transfer.
        var transfers: [TransferKey: TransferRecord] = [:]
        /// Transfers settled (see `settle`): their envelope hash.
        var settled: [TransferKey: HashKey?] = [:]
        /// Problems of settled transfers, in the order of their upload.
        var lateDeletions: [Problem] = []

        public init(verifier: AuditVerifier, head: SignedTreeHead, earlier: [EarlierHead]) {
            self.verifier = verifier
            self.head = head
            self.earlier = []
            if !head.isSigned(by: verifier.serverKey) {
                problems.append(Problem(.headSignature, "the tree head's signature does not verify with the server's receipt key"))
            }
            for saved in earlier {
                guard saved.head.isSigned(by: verifier.serverKey) || saved.previousKeys.contains(where: { saved.head.isSigned(by: $0) }) else {
                    problems.append(
                        Problem(
                            .earlierHeadSignature,
                            "the saved head \(saved.name) is signed neither by this server's receipt key nor by an earlier receipt key the CA certified"))
                    continue
                }
                self.earlier.append(saved)
            }
            checkEarlierHeads()
        }

        /// Checks the next entry; returns it decoded (nil if it is malformed,
        /// a problem then recorded), so a report need not decode it again.
        @discardableResult
        public mutating func add(_ bytes: [UInt8]) -> LogEntry? {
            frontier.append(leafHash: MerkleTree.leafHash(bytes))
            let number = frontier.size
            checkEarlierHeads()
            let entry: LogEntry
            do {
                entry = try LogEntry(decoding: bytes)
            } catch {
                problems.append(Problem(.entryMalformed, entry: number, "not a well-formed log entry (\(error.code.rawValue): \(error.message))"))
                return nil
            }
            if entry.sequence != Int64(number) {
                problems.append(
                    Problem(.sequenceGap, entry: number, "carries sequence number \(entry.sequence): entries were removed or reordered"))
            }
            guard let id = entry.transfer, let key = TransferKey(id) else { return entry }
            switch entry.kind {
            case .uploadPublished:
                transfers[key, default: TransferRecord()].published = (number, entry.expires ?? 0, entry.sha256.flatMap(HashKey.init))
            case .delivered, .expired, .revoked:
                transfers[key, default: TransferRecord()].ended = entry.time
                settle(key)
            case .deleted:
                transfers[key, default: TransferRecord()].deleted = entry.time
                settle(key)
            case .acknowledged: checkAcknowledgment(entry, id: id, number: number)
            case .declared: checkDeclaration(entry, id: id, number: number)
            default: break
            }
            return entry
        }

        /// A transfer published, ended and deleted has nothing left to wait
        /// for: its one possible problem (deleted late) is noted now, and only
        /// its envelope hash is kept, for an acknowledgment still to come. A
        /// log of finished transfers keeps 48 bytes for each.
        private mutating func settle(_ key: TransferKey) {
            guard let record = transfers[key], let upload = record.published, record.ended != nil, let gone = record.deleted else { return }
            transfers[key] = nil
            settled[key] = upload.sha256
            if gone > deadline(upload.expires) {
                lateDeletions.append(Problem(.fileDeletedLate, entry: upload.entry, Self.lateMessage(key.description, gone: gone, expires: upload.expires)))
            }
        }

        /// The latest a transfer expiring at `expires` may be deleted. Entries
        /// are read, not trusted: an expiry near Int64's ends must not
        /// overflow (it saturates), nor a grace out of range.
        private func deadline(_ expires: Int64) -> Int64 {
            let grace = verifier.grace.isNaN ? 0 : Int64(max(-9e18, min(9e18, verifier.grace * 1000)))
            let (sum, overflow) = expires.addingReportingOverflow(grace)
            return overflow ? (grace > 0 ? Int64.max : Int64.min) : sum
        }

        static func lateMessage(_ id: String, gone: Int64, expires: Int64) -> String {
            "transfer \(id) was deleted \(Int64((Double(gone) - Double(expires)) / 1000)) s after its expiry"
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
            let transferKey = TransferKey(id)
            let published: HashKey?? = transferKey.flatMap { transfers[$0]?.published.map(\.sha256) ?? settled[$0] }
            if ack.transfer != id || published.map({ $0 == nil || $0 != HashKey(ack.ciphertextSHA256) }) ?? true {
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
            var lifecycle = lateDeletions
            let published = transfers.compactMap { key, record in record.published.map { (key, record, $0) } }
            for (key, record, upload) in published {
                let id = key.description
                let limit = deadline(upload.expires)
                if record.ended == nil, now > limit {
                    lifecycle.append(Problem(.transferNeverEnded, entry: upload.entry, "transfer \(id) expired without being delivered, expired or revoked"))
                }
                if record.ended != nil, record.deleted == nil {
                    lifecycle.append(Problem(.fileNeverDeleted, entry: upload.entry, "transfer \(id) ended but its file was never recorded as deleted"))
                }
                if let gone = record.deleted, gone > limit {
                    lifecycle.append(Problem(.fileDeletedLate, entry: upload.entry, Self.lateMessage(id, gone: gone, expires: upload.expires)))
                }
            }
            // By transfer, in upload order (a stable sort keeps each transfer's own order).
            result += lifecycle.enumerated().sorted { ($0.element.entry ?? 0, $0.offset) < ($1.element.entry ?? 0, $1.offset) }.map(\.element)
            return result
        }
    }
}

/// What the audit keeps of one transfer.
struct TransferRecord {
    var published: (entry: Int, expires: Int64, sha256: HashKey?)?
    var ended: Int64?
    var deleted: Int64?
}

/// A transfer id (32 lowercase hex digits, as `LogEntry` guarantees) as two words.
struct TransferKey: Hashable, CustomStringConvertible {
    let high: UInt64
    let low: UInt64

    init?(_ hex: String) {
        guard hex.utf8.count == 32, let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16) else { return nil }
        self.high = high
        self.low = low
    }

    var description: String { Self.hex(high) + Self.hex(low) }

    static func hex(_ word: UInt64) -> String {
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// A SHA-256 (64 hex digits, either case) as four words.
struct HashKey: Hashable {
    let words: (UInt64, UInt64, UInt64, UInt64)

    init?(_ hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var parts = [UInt64]()
        var rest = Substring(hex)
        while !rest.isEmpty {
            guard let word = UInt64(rest.prefix(16), radix: 16) else { return nil }
            parts.append(word)
            rest = rest.dropFirst(16)
        }
        words = (parts[0], parts[1], parts[2], parts[3])
    }

    static func == (lhs: HashKey, rhs: HashKey) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
