import Foundation
import SealdropCrypto
import SealdropFormat

/// A signed statement of the log's size and root at a time (RFC 9162's
/// signed tree head), made with the server's receipt key. Once a compliance
/// officer keeps one, no later log can drop or change what it covers
/// without `audit verify` noticing.
public struct SignedTreeHead: Codable, Equatable, Sendable {
    public var size: Int
    /// Hex SHA-256 root of the Merkle tree over the first `size` entries.
    public var root: String
    /// Unix milliseconds when the head was signed.
    public var timestamp: Int64
    /// Hex Ed25519 signature over `signingMessage`.
    public var signature: String

    public init(size: Int, root: String, timestamp: Int64, signature: String) {
        self.size = size
        self.root = root
        self.timestamp = timestamp
        self.signature = signature
    }

    /// Domain separation: a receipt-key signature means nothing elsewhere.
    static let context: [UInt8] = Array("sealdrop-tree-head-v1".utf8) + [0]

    public static func signingMessage(size: Int, root: [UInt8], timestamp: Int64) -> [UInt8] {
        var writer = WireWriter()
        writer.write(context)
        writer.writeUInt64(UInt64(size))
        writer.writeInt64(timestamp)
        writer.write(root)
        return writer.bytes
    }

    public static func sign(entries: [[UInt8]], at time: Date, with key: Ed25519PrivateKey) -> SignedTreeHead {
        sign(leafHashes: entries.map(MerkleTree.leafHash), at: time, with: key)
    }

    /// A head over entries whose leaf hashes are already known (the store keeps them).
    public static func sign(leafHashes: [MerkleTree.Hash], at time: Date, with key: Ed25519PrivateKey) -> SignedTreeHead {
        sign(size: leafHashes.count, root: MerkleTree.root(leafHashes[...]), at: time, with: key)
    }

    /// A head over a tree whose root is known (a `MerkleFrontier` streamed over the log).
    public static func sign(size: Int, root: MerkleTree.Hash, at time: Date, with key: Ed25519PrivateKey) -> SignedTreeHead {
        let timestamp = Int64((time.timeIntervalSince1970 * 1000).rounded())
        let signature = key.signature(for: signingMessage(size: size, root: root, timestamp: timestamp))
        return SignedTreeHead(size: size, root: Hex.encode(root), timestamp: timestamp, signature: Hex.encode(signature))
    }

    public func isSigned(by key: Ed25519PublicKey) -> Bool {
        // A size below zero (JSON allows one) has no signing message: the
        // message holds the size unsigned, and converting would trap.
        guard size >= 0, let root = Hex.decode(root), root.count == 32, let signature = Hex.decode(signature) else { return false }
        return key.isValidSignature(signature, for: Self.signingMessage(size: size, root: root, timestamp: timestamp))
    }

    public var time: Date { Date(timeIntervalSince1970: TimeInterval(timestamp) / 1000) }
}

/// The one-document export written before `LogExport` (format
/// `sealdrop-log-v1`): still read by `LogExportReader`, no longer written.
/// It had to be decoded whole, so a log of a million entries took most of
/// a minute and a GiB of memory to verify.
public struct LogBundle: Codable, Sendable {
    public var format = "sealdrop-log-v1"
    /// Base64 of each entry's exact bytes, in order.
    public var entries: [String]
    public var treeHead: SignedTreeHead
    /// PEM: the server certificate (role server) holding the receipt key.
    public var serverCertificate: String
    public var caCertificate: String
    public var revocations: String
    /// PEM: the vendor certificates, to check acknowledgments against.
    public var vendorCertificates: [String]

    public init(
        entries: [[UInt8]], treeHead: SignedTreeHead, serverCertificate: String, caCertificate: String, revocations: String,
        vendorCertificates: [String]
    ) {
        self.entries = entries.map { Base64.encode($0) }
        self.treeHead = treeHead
        self.serverCertificate = serverCertificate
        self.caCertificate = caCertificate
        self.revocations = revocations
        self.vendorCertificates = vendorCertificates
    }
}

/// What `/receipts/ID.json` holds: one transfer's log entries, each with
/// its inclusion proof in a signed tree head, and the certificate of the
/// key that signed it. Sender and recipient each keep theirs.
public struct TransferReceipt: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        /// Position in the log, from 0.
        public var index: Int
        /// Base64 of the entry's exact bytes.
        public var entry: String
        /// Hex hashes of the RFC 9162 audit path.
        public var proof: [String]

        public init(index: Int, entry: String, proof: [String]) {
            self.index = index
            self.entry = entry
            self.proof = proof
        }
    }

    public var format = "sealdrop-receipt-v1"
    public var transfer: String
    public var entries: [Entry]
    public var treeHead: SignedTreeHead
    public var serverCertificate: String

    public init(transfer: String, entries: [Entry], treeHead: SignedTreeHead, serverCertificate: String) {
        self.transfer = transfer
        self.entries = entries
        self.treeHead = treeHead
        self.serverCertificate = serverCertificate
    }

    /// Problems with the entries' inclusion in the signed head (empty when sound).
    public func inclusionProblems() -> [String] {
        guard let root = Hex.decode(treeHead.root) else { return ["the tree head's root is not hexadecimal"] }
        var problems = [String]()
        for item in entries {
            guard let bytes = Base64.decode(item.entry), let proof = Optional(item.proof.compactMap { Hex.decode($0) }), proof.count == item.proof.count,
                MerkleTree.verifyInclusion(leaf: MerkleTree.leafHash(bytes), index: item.index, size: treeHead.size, proof: proof, root: root)
            else {
                problems.append("entry \(item.index &+ 1) is not included in the signed tree head")
                continue
            }
        }
        return problems
    }
}
