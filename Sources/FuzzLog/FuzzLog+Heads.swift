import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropLog

/// Decodes `T` from JSON bytes; a value that decodes must encode to JSON
/// that decodes to the same value (JSON spelling is not canonical, values are).
func decodeStable<T: Codable & Equatable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
    guard let value = try? JSONDecoder().decode(T.self, from: Data(bytes)) else { return nil }
    guard let again = try? JSONEncoder().encode(value), (try? JSONDecoder().decode(T.self, from: again)) == value else {
        fatalError("a decoded \(T.self) does not survive encoding")
    }
    return value
}

/// A head the receipt key signs over `head`'s size, root and time, when
/// those can be signed (a 32-byte hex root and a size that is a count).
func resigned(_ head: SignedTreeHead) -> SignedTreeHead? {
    guard head.size >= 0, let root = Hex.decode(head.root), root.count == 32 else { return nil }
    let message = SignedTreeHead.signingMessage(size: head.size, root: root, timestamp: head.timestamp)
    var signed = head
    signed.signature = Hex.encode(FuzzKeys.receipt.signature(for: message))
    return signed
}

/// A tree head: checking its signature answers, never traps; once signed
/// by the receipt key it verifies, and not with another key.
func checkTreeHead(_ bytes: [UInt8]) {
    guard let head = decodeStable(SignedTreeHead.self, bytes) else { return }
    _ = head.isSigned(by: FuzzKeys.receipt.publicKey)
    guard let signed = resigned(head) else { return }
    guard signed.isSigned(by: FuzzKeys.receipt.publicKey) else { fatalError("a head signed by the receipt key does not verify") }
    guard !signed.isSigned(by: FuzzKeys.vendor.publicKey) else { fatalError("a head verifies with a key that did not sign it") }
}

/// The synthetic log the witness checks run against: 24 entries.
let witnessLeaves: [MerkleTree.Hash] = (0..<24).map { MerkleTree.leafHash(Array("entry \($0)".utf8)) }

/// A published head, as a vendor's client reads it: decoded, its tree head
/// re-signed by the receipt key (so the fuzzer reaches the consistency
/// checks), then checked against a saved head over the first `from`
/// entries of a known log. Properties: the witness answers, never traps; a head it
/// keeps is one of the two it was given; an accepted head of the same size
/// has the saved root; a head of the known log with a true proof is accepted.
func checkPublishedHead(_ bytes: [UInt8]) {
    guard var published = decodeStable(PublishedHead.self, bytes) else { return }
    // The saved head is as long as the head claims to extend (or any length).
    let savedSize = Int(UInt(bitPattern: published.from ?? bytes.count) % UInt(witnessLeaves.count + 1))
    let saved = SignedTreeHead.sign(
        leafHashes: Array(witnessLeaves.prefix(savedSize)), at: Date(timeIntervalSince1970: 1_767_225_600), with: FuzzKeys.receipt)
    if let signed = resigned(published.treeHead) { published.treeHead = signed }
    if let kept = try? HeadWitness.check(saved: saved, published: published, serverKey: FuzzKeys.receipt.publicKey) {
        guard kept == saved || kept == published.treeHead else { fatalError("the witness kept a head it was not given") }
        if savedSize > 0, kept.size == saved.size, kept.root != saved.root { fatalError("the witness accepted another root of the same size") }
        if savedSize > 0, kept.size < saved.size { fatalError("the witness accepted a shorter log") }
    }
    // The honest case for the same sizes: a true head and proof always pass.
    let newSize = max(savedSize, min(witnessLeaves.count, published.treeHead.size))
    if savedSize > 0, newSize > 0 {
        let honest = PublishedHead.make(
            leafHashes: Array(witnessLeaves.prefix(newSize)), from: savedSize, at: Date(timeIntervalSince1970: 1_767_225_601), key: FuzzKeys.receipt,
            certificate: "")
        guard (try? HeadWitness.check(saved: saved, published: honest, serverKey: FuzzKeys.receipt.publicKey)) != nil else {
            fatalError("an honest head of size \(newSize) does not extend the saved head of size \(savedSize)")
        }
    }
}

/// A transfer receipt: its inclusion check answers, never traps; with its
/// head re-signed it still only accepts entries that are in the tree.
func checkReceipt(_ bytes: [UInt8]) {
    guard let receipt = try? JSONDecoder().decode(TransferReceipt.self, from: Data(bytes)) else { return }
    _ = receipt.inclusionProblems()
    guard let again = try? JSONEncoder().encode(receipt), let back = try? JSONDecoder().decode(TransferReceipt.self, from: again),
        back.transfer == receipt.transfer, back.treeHead == receipt.treeHead, back.entries.map(\.entry) == receipt.entries.map(\.entry),
        back.entries.map(\.proof) == receipt.entries.map(\.proof), back.entries.map(\.index) == receipt.entries.map(\.index)
    else { fatalError("a decoded receipt does not survive encoding") }
}

/// An exported bundle: decodes to a value that survives encoding, and its
/// entries' base64 decodes or is reported, never traps.
func checkBundle(_ bytes: [UInt8]) {
    guard let bundle = try? JSONDecoder().decode(LogBundle.self, from: Data(bytes)) else { return }
    for entry in bundle.entries {
        if let raw = Base64.decode(entry) {
            checkEntry(raw)
            guard Base64.encode(raw) == entry || Base64.decode(Base64.encode(raw)) == raw else {
                fatalError("an entry's base64 does not survive encoding")
            }
        }
    }
    guard let again = try? JSONEncoder().encode(bundle), let back = try? JSONDecoder().decode(LogBundle.self, from: again),
        back.entries == bundle.entries, back.treeHead == bundle.treeHead, back.serverCertificate == bundle.serverCertificate,
        back.vendorCertificates == bundle.vendorCertificates
    else { fatalError("a decoded bundle does not survive encoding") }
}
