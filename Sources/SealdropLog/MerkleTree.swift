import SealdropCrypto

/// The Merkle tree of RFC 9162 §2.1 (Certificate Transparency v2) over an
/// append-only list of entries: SHA-256, with leaf and interior nodes
/// domain-separated (0x00 and 0x01 prefixes) so a leaf can never pass for a
/// node. The receipt log is this tree over the server's events.
public enum MerkleTree {
    public typealias Hash = [UInt8]

    /// MTH({d}) = SHA-256(0x00 || d).
    public static func leafHash(_ entry: [UInt8]) -> Hash {
        Digest.sha256([0x00] + entry)
    }

    /// SHA-256(0x01 || left || right).
    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        Digest.sha256([0x01] + left + right)
    }

    /// MTH of the leaves `range` of `leaves` (leaf hashes); the empty tree
    /// hashes to SHA-256 of nothing.
    public static func root(_ leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return Digest.sha256([])
        case 1: return leaves.first!
        default:
            let split = leaves.startIndex + largestPowerOfTwo(below: leaves.count)
            return nodeHash(root(leaves[..<split]), root(leaves[split...]))
        }
    }

    /// PATH(m, D[n]) of RFC 9162 §2.1.3.1: the audit path of leaf `index`.
    public static func inclusionProof(index: Int, _ leaves: ArraySlice<Hash>) -> [Hash] {
        precondition(index >= 0 && index < leaves.count)
        guard leaves.count > 1 else { return [] }
        let k = largestPowerOfTwo(below: leaves.count)
        let split = leaves.startIndex + k
        if index < k {
            return inclusionProof(index: index, leaves[..<split]) + [root(leaves[split...])]
        }
        return inclusionProof(index: index - k, leaves[split...]) + [root(leaves[..<split])]
    }

    /// PROOF(m, D[n]) of RFC 9162 §2.1.4.1: shows the tree of `oldSize`
    /// leaves is a prefix of the tree of `leaves`.
    public static func consistencyProof(oldSize: Int, _ leaves: ArraySlice<Hash>) -> [Hash] {
        precondition(oldSize > 0 && oldSize <= leaves.count)
        return subproof(oldSize, leaves, complete: true)
    }

    private static func subproof(_ m: Int, _ leaves: ArraySlice<Hash>, complete: Bool) -> [Hash] {
        let n = leaves.count
        if m == n { return complete ? [] : [root(leaves)] }
        let k = largestPowerOfTwo(below: n)
        let split = leaves.startIndex + k
        if m <= k {
            return subproof(m, leaves[..<split], complete: complete) + [root(leaves[split...])]
        }
        return subproof(m - k, leaves[split...], complete: false) + [root(leaves[..<split])]
    }

    /// RFC 9162 §2.1.3.2: does `proof` show leaf `index` (hash `leaf`) in the tree of `size` with `root`?
    public static func verifyInclusion(leaf: Hash, index: Int, size: Int, proof: [Hash], root expected: Hash) -> Bool {
        guard index >= 0, index < size else { return false }
        var fn = index
        var sn = size - 1
        var r = leaf
        for p in proof {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 { climbWhileLeftChild(&fn, &sn) }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == expected
    }

    /// RFC 9162 §2.1.4.2: does `proof` show the tree (`oldSize`, `oldRoot`)
    /// is a prefix of (`newSize`, `newRoot`)? A rewritten history fails here.
    public static func verifyConsistency(oldSize: Int, oldRoot: Hash, newSize: Int, newRoot: Hash, proof: [Hash]) -> Bool {
        guard oldSize > 0, oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }  // an exact power of two
        guard !path.isEmpty else { return false }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 { climbWhileLeftChild(&fn, &sn) }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }

    /// The step both RFC 9162 verification loops share: from a node that is
    /// a left child, move up while it stays one (or reaches the root).
    private static func climbWhileLeftChild(_ fn: inout Int, _ sn: inout Int) {
        repeat {
            fn >>= 1
            sn >>= 1
        } while fn & 1 == 0 && fn != 0
    }

    /// The largest power of two strictly smaller than `n` (n > 1).
    static func largestPowerOfTwo(below n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }
}
