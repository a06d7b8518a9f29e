import SealdropLog

/// Merkle proofs against a tree built from the input. The first three
/// bytes give the size n (1...64), an index and an old size; the leaves
/// are made from the bytes after them; the rest is read as a claimed entry,
/// index and old size and arbitrary proof hashes. Properties: every true
/// inclusion and consistency proof verifies; one with a bit flipped does
/// not; an arbitrary proof accepted against the true root of size n shows
/// the true entry at its index (inclusion) or the true root of the old size
/// (consistency): the verifiers are sound, not only complete.
func checkProofs(_ bytes: [UInt8]) {
    guard bytes.count >= 3 else { return }
    let size = Int(bytes[0]) % 64 + 1
    let index = Int(bytes[1]) % size
    let oldSize = Int(bytes[2]) % size + 1
    let body = Array(bytes.dropFirst(3))
    let entries: [[UInt8]] = (0..<size).map { [UInt8($0)] + body.prefix($0 % 5) }
    let leaves = entries.map(MerkleTree.leafHash)
    let root = MerkleTree.root(leaves[...])

    let inclusion = MerkleTree.inclusionProof(index: index, leaves[...])
    guard MerkleTree.verifyInclusion(leaf: leaves[index], index: index, size: size, proof: inclusion, root: root) else {
        fatalError("a true inclusion proof of \(index) in \(size) does not verify")
    }
    let oldRoot = MerkleTree.root(leaves.prefix(oldSize))
    let consistency = MerkleTree.consistencyProof(oldSize: oldSize, leaves[...])
    guard MerkleTree.verifyConsistency(oldSize: oldSize, oldRoot: oldRoot, newSize: size, newRoot: root, proof: consistency) else {
        fatalError("a true consistency proof from \(oldSize) to \(size) does not verify")
    }
    if let flip = body.first, !consistency.isEmpty {
        var bent = consistency
        let which = Int(flip) % bent.count
        bent[which][Int(flip) % 32] ^= 1 << (flip % 8)
        if MerkleTree.verifyConsistency(oldSize: oldSize, oldRoot: oldRoot, newSize: size, newRoot: root, proof: bent) {
            fatalError("a consistency proof with a bit flipped verifies")
        }
    }
    if let flip = body.first, !inclusion.isEmpty {
        var bent = inclusion
        bent[Int(flip) % bent.count][Int(flip) % 32] ^= 1 << (flip % 8)
        if MerkleTree.verifyInclusion(leaf: leaves[index], index: index, size: size, proof: bent, root: root) {
            fatalError("an inclusion proof with a bit flipped verifies")
        }
    }

    // Arbitrary proofs: hashes are 32-byte slices of the body, the claimed
    // leaf is one of the tree's or not (body[0] odd: a leaf of other bytes),
    // and the claimed index and old size come from the body as whole Ints.
    guard body.count >= 17 else { return }
    let claimedIndex = Int(truncatingIfNeeded: body[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    let claimedOld = Int(truncatingIfNeeded: body[9..<17].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    let rest = Array(body.dropFirst(17))
    let hashes = stride(from: 0, to: rest.count - rest.count % 32, by: 32).map { Array(rest[$0..<$0 + 32]) }
    // Also try the true proof hashes the fuzzer may splice in.
    let candidates: [[MerkleTree.Hash]] = [hashes, inclusion + hashes, consistency + hashes, Array(hashes.dropFirst())]
    let claimedEntry = body[0] & 1 == 1 ? [UInt8(0xFF)] + body.prefix(3) : entries[Int(body[0] >> 1) % size]
    let smallIndex = claimedIndex >= 0 && claimedIndex < size ? claimedIndex : Int(UInt64(bitPattern: Int64(claimedIndex)) % UInt64(size))
    for proof in candidates {
        for claimed in [claimedIndex, smallIndex] {
            if MerkleTree.verifyInclusion(leaf: MerkleTree.leafHash(claimedEntry), index: claimed, size: size, proof: proof, root: root),
                entries[claimed] != claimedEntry
            {
                fatalError("an inclusion proof shows an entry that is not at index \(claimed) of \(size)")
            }
        }
        let smallOld = Int(UInt64(bitPattern: Int64(claimedOld)) % UInt64(size)) + 1
        for old in [claimedOld, smallOld] {
            let claimedRoot = proof.first ?? root
            if MerkleTree.verifyConsistency(oldSize: old, oldRoot: claimedRoot, newSize: size, newRoot: root, proof: proof) {
                guard old > 0, old <= size, claimedRoot == MerkleTree.root(leaves.prefix(old)) else {
                    fatalError("a consistency proof shows a root that is not that of the first \(old) of \(size) entries")
                }
            }
        }
    }
}
