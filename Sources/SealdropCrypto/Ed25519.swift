internal import CSodium

/// An Ed25519 public key (RFC 8032), 32 bytes.
public struct Ed25519PublicKey: Hashable, Sendable {
    public static let byteCount = 32
    public let bytes: [UInt8]

    public init<C: Collection<UInt8>>(bytes: C) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.invalidKey, "an Ed25519 public key is 32 bytes, not \(bytes.count)")
        }
        self.bytes = Array(bytes)
    }

    /// Verifies a detached signature.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        Sodium.ensureReady()
        guard signature.count == Int(crypto_sign_ed25519_BYTES) else { return false }
        return crypto_sign_ed25519_verify_detached(signature, message, UInt64(message.count), bytes) == 0
    }

    /// The same key on the Montgomery curve, for sealing to it
    /// (`crypto_sign_ed25519_pk_to_curve25519`).
    public func x25519PublicKey() throws(CryptoError) -> X25519PublicKey {
        Sodium.ensureReady()
        var out = [UInt8](repeating: 0, count: Int(crypto_scalarmult_curve25519_BYTES))
        try check(
            crypto_sign_ed25519_pk_to_curve25519(&out, bytes),
            CryptoError(.invalidKey, "the Ed25519 public key is not a valid curve point")
        )
        return X25519PublicKey(validated: out)
    }
}

/// An Ed25519 signing key held as its 64-byte libsodium secret key
/// (seed followed by public key), wiped on release.
public final class Ed25519PrivateKey: Sendable {
    private let secretKey: SecretBytes
    public let publicKey: Ed25519PublicKey

    /// Derives the key pair from a 32-byte seed (RFC 8032's private key).
    public init(seed: SecretBytes) throws(CryptoError) {
        Sodium.ensureReady()
        guard seed.count == Int(crypto_sign_ed25519_SEEDBYTES) else {
            throw CryptoError(.invalidKey, "an Ed25519 seed is 32 bytes, not \(seed.count)")
        }
        var publicBytes = [UInt8](repeating: 0, count: Int(crypto_sign_ed25519_PUBLICKEYBYTES))
        secretKey = try SecretBytes(count: Int(crypto_sign_ed25519_SECRETKEYBYTES)) { (secret) throws(CryptoError) in
            try seed.withUnsafeBytes { (seedBytes) throws(CryptoError) in
                try check(
                    crypto_sign_ed25519_seed_keypair(
                        &publicBytes,
                        secret.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        seedBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    ),
                    CryptoError(.invalidKey, "libsodium could not derive an Ed25519 key pair")
                )
            }
        }
        publicKey = try Ed25519PublicKey(bytes: publicBytes)
    }

    /// A fresh random key.
    public static func generate() -> Ed25519PrivateKey {
        // 32 random bytes always make a valid seed.
        try! Ed25519PrivateKey(seed: SecretBytes(copying: SecureRandom.bytes(32)))
    }

    /// The 32-byte seed, for writing the key file.
    public var seed: SecretBytes {
        secretKey.withUnsafeBytes { SecretBytes(copying: $0.prefix(32)) }
    }

    /// A detached signature over `message`. Callers prefix a context string
    /// so that signatures for different purposes never collide.
    public func signature(for message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_ed25519_BYTES))
        let result = secretKey.withUnsafeBytes { secret in
            crypto_sign_ed25519_detached(
                &signature, nil, message, UInt64(message.count),
                secret.baseAddress!.assumingMemoryBound(to: UInt8.self)
            )
        }
        // Signing with a well-formed secret key cannot fail.
        precondition(result == 0, "crypto_sign_ed25519_detached failed")
        return signature
    }

    /// The matching X25519 secret key (`crypto_sign_ed25519_sk_to_curve25519`),
    /// used to open what was sealed to `publicKey.x25519PublicKey()`.
    public func x25519PrivateKey() -> X25519PrivateKey {
        let scalar = try! SecretBytes(count: Int(crypto_scalarmult_curve25519_BYTES)) { out in
            let result = secretKey.withUnsafeBytes { secret in
                crypto_sign_ed25519_sk_to_curve25519(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    secret.baseAddress!.assumingMemoryBound(to: UInt8.self)
                )
            }
            precondition(result == 0, "crypto_sign_ed25519_sk_to_curve25519 failed")
        }
        // The conversion of a valid Ed25519 secret key cannot fail; derive the
        // public half so the pair travels together.
        return X25519PrivateKey(secret: scalar, publicKey: try! publicKey.x25519PublicKey())
    }
}
