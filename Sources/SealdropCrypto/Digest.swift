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

/// Incremental SHA-256, for files too large to hold (the server hashes
/// every published envelope).
public final class SHA256Stream {
    private let state: UnsafeMutablePointer<crypto_hash_sha256_state>

    public init() {
        Sodium.ensureReady()
        state = .allocate(capacity: 1)
        crypto_hash_sha256_init(state)
    }

    deinit {
        state.deallocate()
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        crypto_hash_sha256_update(state, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    public func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        out.withUnsafeMutableBufferPointer { _ = crypto_hash_sha256_final(state, $0.baseAddress!) }
        return out
    }
}
