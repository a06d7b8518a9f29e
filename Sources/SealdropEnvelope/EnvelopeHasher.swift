import Crypto

/// SHA-256 of an envelope's bytes as they stream past, for the v2 trailer's
/// content hash and the whole-file hash a drop box records.
///
/// The trailer signs the hash of every byte before it, so one hasher serves
/// both: `snapshot()` at the trailer gives the content hash, and the same
/// state, fed the trailer, gives the file's hash. One pass, one hash.
struct EnvelopeHasher {
    private var state = SHA256()

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        state.update(bufferPointer: bytes)
    }

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything so far; the hasher goes on unchanged.
    func snapshot() -> [UInt8] {
        Array(state.finalize())
    }
}
