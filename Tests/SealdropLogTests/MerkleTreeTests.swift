import SealdropFormat
import SealdropLog
import Testing

@Suite struct MerkleTreeTests {
    /// The eight leaves of the Certificate Transparency reference tests, and
    /// the root of each prefix of them.
    static let leaves: [[UInt8]] = [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ]
    static let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    static var hashes: [MerkleTree.Hash] { leaves.map(MerkleTree.leafHash) }

    @Test func rootsMatchTheReferenceVectors() {
        for size in 1...8 {
            #expect(Hex.encode(MerkleTree.root(Self.hashes.prefix(size))) == Self.roots[size - 1], "size \(size)")
        }
        #expect(Hex.encode(MerkleTree.root([][...])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func everyInclusionProofVerifiesAndNoOtherDoes() {
        let hashes = Self.hashes + (0..<13).map { MerkleTree.leafHash([UInt8($0), 0xee]) }
        for size in 1...hashes.count {
            let tree = hashes.prefix(size)
            let root = MerkleTree.root(tree)
            for index in 0..<size {
                let proof = MerkleTree.inclusionProof(index: index, tree)
                #expect(MerkleTree.verifyInclusion(leaf: hashes[index], index: index, size: size, proof: proof, root: root))
                #expect(!MerkleTree.verifyInclusion(leaf: MerkleTree.leafHash([0x99]), index: index, size: size, proof: proof, root: root))
                if size > 1 {
                    #expect(!MerkleTree.verifyInclusion(leaf: hashes[index], index: (index + 1) % size, size: size, proof: proof, root: root))
                }
            }
        }
    }

    @Test func everyConsistencyProofVerifiesAndARewriteDoesNot() {
        let hashes = Self.hashes + (0..<9).map { MerkleTree.leafHash([UInt8($0), 0xdd]) }
        for newSize in 1...hashes.count {
            let newRoot = MerkleTree.root(hashes.prefix(newSize))
            for oldSize in 1...newSize {
                let oldRoot = MerkleTree.root(hashes.prefix(oldSize))
                let proof = MerkleTree.consistencyProof(oldSize: oldSize, hashes.prefix(newSize))
                #expect(
                    MerkleTree.verifyConsistency(oldSize: oldSize, oldRoot: oldRoot, newSize: newSize, newRoot: newRoot, proof: proof),
                    "\(oldSize) → \(newSize)")
                // The same new tree with one old entry edited is not an extension of the old head.
                var rewritten = hashes
                rewritten[oldSize - 1] = MerkleTree.leafHash([0x42])
                let rewrittenRoot = MerkleTree.root(rewritten.prefix(newSize))
                let rewrittenProof = MerkleTree.consistencyProof(oldSize: oldSize, rewritten.prefix(newSize))
                #expect(!MerkleTree.verifyConsistency(oldSize: oldSize, oldRoot: oldRoot, newSize: newSize, newRoot: rewrittenRoot, proof: rewrittenProof))
            }
        }
    }

    @Test func leavesAndNodesAreDomainSeparated() {
        let a = MerkleTree.leafHash([1])
        let b = MerkleTree.leafHash([2])
        #expect(MerkleTree.leafHash(a + b) != MerkleTree.nodeHash(a, b))
    }
}
