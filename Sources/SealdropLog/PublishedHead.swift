import Foundation
import SealdropCrypto
import SealdropFormat

/// What `/receipts/head` and `/receipts/consistency-N.json` hold: a tree
/// head signed when it was asked for, the certificate of the key that
/// signed it, and for `consistency-N.json` the RFC 9162 proof that the
/// tree of size N is a prefix of it. Every vendor's client reads one on
/// every operation and checks it against the last head it saw (spec §7).
public struct PublishedHead: Codable, Sendable, Equatable {
    public var format = "sealdrop-head-v1"
    public var treeHead: SignedTreeHead
    /// N of `consistency-N.json`; absent in `/receipts/head`.
    public var from: Int?
    /// Hex hashes of PROOF(N, D[size]); absent when N is not below the head's size.
    public var consistency: [String]?
    /// PEM: the server certificate (role server) holding the receipt key.
    public var serverCertificate: String
    /// PEM: the drop box's other server certificates, those of receipt keys
    /// it used before a rotation, so a vendor whose saved head one of them
    /// signed can check it (absent when there are none; older clients
    /// ignore it).
    public var previousCertificates: [String]?

    public init(
        treeHead: SignedTreeHead, from: Int? = nil, consistency: [String]? = nil, serverCertificate: String, previousCertificates: [String]? = nil
    ) {
        self.treeHead = treeHead
        self.from = from
        self.consistency = consistency
        self.serverCertificate = serverCertificate
        self.previousCertificates = previousCertificates
    }

    /// The published file for `hashes` (every leaf hash so far), signed now.
    public static func make(
        leafHashes hashes: [MerkleTree.Hash], from: Int?, at now: Date, key: Ed25519PrivateKey, certificate: String, previousCertificates: [String] = []
    ) -> PublishedHead {
        let head = SignedTreeHead.sign(leafHashes: hashes, at: now, with: key)
        var proof: [String]?
        if let from, from > 0, from <= hashes.count {
            proof = MerkleTree.consistencyProof(oldSize: from, hashes[...]).map { Hex.encode($0) }
        }
        return PublishedHead(
            treeHead: head, from: from, consistency: proof, serverCertificate: certificate,
            previousCertificates: previousCertificates.isEmpty ? nil : previousCertificates)
    }

    /// The most a published head may hold: certificates and 64 hashes.
    public static let maximumSize = 64 << 10
    /// How many earlier receipt-key certificates a head carries at most
    /// (the newest first), so it stays far below `maximumSize`.
    public static let maximumPreviousCertificates = 16
}

/// A vendor's client as a witness of the log (spec §7): the head the
/// drop box publishes now must extend the last one this vendor saw.
public enum HeadWitness {
    /// Checks `published` against `saved` with the certified receipt key;
    /// returns the head to keep (the newer of the two).
    public static func check(saved: SignedTreeHead?, published: PublishedHead, serverKey: Ed25519PublicKey) throws(WitnessError) -> SignedTreeHead {
        try witness(saved: saved, published: published, serverKey: serverKey).head
    }

    /// What a witness check decided: the head to keep, and whether the
    /// receipt key changed since the saved head (a rotation).
    public struct Outcome: Sendable, Equatable {
        public let head: SignedTreeHead
        public let keyChanged: Bool
    }

    /// `check`, across a rotation of the receipt key: a saved head signed
    /// not by `serverKey` but by one of `previousKeys` (keys of earlier
    /// server certificates, which the caller verified against the CA) is
    /// still a head this vendor saw, and the new one must extend it like
    /// any other. A saved head signed by neither is a fork.
    ///
    /// `newerKeys` are earlier-listed receipt keys whose certificates the
    /// CA issued after the certificate of `serverKey` (the caller compares
    /// the CA-signed notBefore dates, which the drop box cannot forge): a
    /// saved head signed by one of them means the drop box went back to a
    /// retired key, which is refused as `rolledBack`.
    public static func witness(
        saved: SignedTreeHead?, published: PublishedHead, serverKey: Ed25519PublicKey, previousKeys: [Ed25519PublicKey] = [],
        newerKeys: [Ed25519PublicKey] = []
    ) throws(WitnessError) -> Outcome {
        let new = published.treeHead
        guard new.isSigned(by: serverKey) else {
            throw WitnessError(.badSignature, "the drop box's tree head \(describe(new)) is not signed by its certified receipt key")
        }
        guard let saved, saved.size > 0 else { return Outcome(head: new, keyChanged: false) }
        let keyChanged = !saved.isSigned(by: serverKey)
        if keyChanged, !previousKeys.contains(where: { saved.isSigned(by: $0) }) {
            throw WitnessError(
                .fork,
                "the tree head this profile saved, \(describe(saved)), is signed neither by the drop box's current receipt key (\(describe(new))) nor by an earlier receipt key the CA certified"
            )
        }
        if keyChanged, newerKeys.contains(where: { saved.isSigned(by: $0) }) {
            throw WitnessError(
                .rolledBack,
                "the drop box's tree head \(describe(new)) is signed by a retired receipt key: the head this profile saved, \(describe(saved)), was signed by a key the CA certified later; whoever holds the old key may be signing in the drop box's name"
            )
        }
        func fork(_ why: String) -> WitnessError {
            WitnessError(
                .fork,
                "the drop box's receipt log forked: the head it shows now, \(describe(new)), does not extend the head this profile saw, \(describe(saved)) (\(why)); keep both heads as evidence for the compliance officer"
            )
        }
        if new.size < saved.size { throw fork("the log is shorter than before") }
        if new.size == saved.size {
            guard new.root == saved.root else { throw fork("same size, another root") }
            return Outcome(head: new.timestamp >= saved.timestamp || keyChanged ? new : saved, keyChanged: keyChanged)
        }
        guard published.from == saved.size, let proof = published.consistency, let oldRoot = Hex.decode(saved.root), let newRoot = Hex.decode(new.root)
        else { throw fork("no consistency proof from size \(saved.size) was given") }
        let hashes = proof.compactMap { Hex.decode($0) }
        guard hashes.count == proof.count,
            MerkleTree.verifyConsistency(oldSize: saved.size, oldRoot: oldRoot, newSize: new.size, newRoot: newRoot, proof: hashes)
        else { throw fork("the consistency proof does not verify") }
        return Outcome(head: new, keyChanged: keyChanged)
    }

    public static func describe(_ head: SignedTreeHead) -> String {
        "size \(head.size) root \(head.root) signed \(head.timestamp) ms"
    }
}

public struct WitnessError: CodedError, Sendable {
    public enum Code: String, Sendable {
        /// The head is not signed by the certified receipt key.
        case badSignature = "bad-signature"
        /// The head does not extend the one saved: a split view or a rewritten log.
        case fork = "fork"
        /// The head is signed by a receipt key older than the one that signed the saved head.
        case rolledBack = "rolled-back-key"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
