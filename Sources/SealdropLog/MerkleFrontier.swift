/// The right edge of an RFC 9162 Merkle tree built one leaf at a time: the
/// roots of its perfect subtrees, largest first (at most 64). Its root
/// equals `MerkleTree.root` over the same leaves, in memory that does not
/// grow with the log, so a verifier can stream a log of any size and know
/// the root of every prefix as it passes it.
public struct MerkleFrontier: Sendable {
    /// (subtree size, subtree root), sizes strictly decreasing powers of two.
    private var peaks: [(size: Int, hash: MerkleTree.Hash)] = []
    public private(set) var size = 0

    public init() {}

    public mutating func append(leafHash: MerkleTree.Hash) {
        var node = (size: 1, hash: leafHash)
        // Two equal perfect subtrees side by side are one twice as large.
        while let last = peaks.last, last.size == node.size {
            peaks.removeLast()
            node = (size: last.size * 2, hash: MerkleTree.nodeHash(last.hash, node.hash))
        }
        peaks.append(node)
        size += 1
    }

    /// The tree's root: the peaks folded from the right (RFC 9162 §2.1.1's
    /// split at the largest power of two is exactly this).
    public var root: MerkleTree.Hash {
        guard var hash = peaks.last?.hash else { return MerkleTree.root([]) }
        for peak in peaks.dropLast().reversed() { hash = MerkleTree.nodeHash(peak.hash, hash) }
        return hash
    }
}
