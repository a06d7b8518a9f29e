internal import CSodium

/// One-shot hashes used by the formats.
public enum Digest {
    /// SHA-256: key and certificate fingerprints, the header hash bound to the stream.
    public static func sha256<C: Collection<UInt8>>(_ message: C) -> [UInt8] {
        Sodium.ensureReady()
        let input = Array(message)
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        input.withUnsafeBufferPointer { inputBuffer in
            out.withUnsafeMutableBufferPointer { outBuffer in
                _ = crypto_hash_sha256(outBuffer.baseAddress!, inputBuffer.baseAddress, UInt64(inputBuffer.count))
            }
        }
        return out
    }
}
