internal import CSodium

/// An X25519 public key, 32 bytes: the recipient key a file key is sealed to.
public struct X25519PublicKey: Hashable, Sendable {
    public let bytes: [UInt8]

    init(validated bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init<C: Collection<UInt8>>(bytes: C) throws(CryptoError) {
        guard bytes.count == Int(crypto_box_PUBLICKEYBYTES) else {
            throw CryptoError(.invalidKey, "an X25519 public key is 32 bytes, not \(bytes.count)")
        }
        self.bytes = Array(bytes)
    }
}

/// An X25519 secret key with its public half, wiped on release.
public final class X25519PrivateKey: Sendable {
    let secret: SecretBytes
    public let publicKey: X25519PublicKey

    init(secret: SecretBytes, publicKey: X25519PublicKey) {
        self.secret = secret
        self.publicKey = publicKey
    }
}

/// Anonymous public-key encryption (`crypto_box_seal`): the sender's
/// ephemeral key is thrown away, so only the recipient can open.
public enum SealedBox {
    /// Bytes added to the message: ephemeral public key + MAC.
    public static var overhead: Int { Int(crypto_box_sealbytes()) }

    public static func seal(_ message: SecretBytes, to recipient: X25519PublicKey) throws(CryptoError) -> [UInt8] {
        Sodium.ensureReady()
        var out = [UInt8](repeating: 0, count: message.count + overhead)
        let result = message.withUnsafeBytes { plain in
            crypto_box_seal(
                &out, plain.baseAddress!.assumingMemoryBound(to: UInt8.self),
                UInt64(plain.count), recipient.bytes
            )
        }
        // Fails for a public key of low order: never seal a key to it.
        try check(result, CryptoError(.invalidKey, "cannot seal to this X25519 key (it is not a usable public key)"))
        return out
    }

    public static func open(_ box: [UInt8], with key: X25519PrivateKey) throws(CryptoError) -> SecretBytes {
        Sodium.ensureReady()
        let failure = CryptoError(.openFailed, "the sealed box does not open with this key")
        guard box.count >= overhead else { throw failure }
        return try SecretBytes(count: box.count - overhead) { (out) throws(CryptoError) in
            try key.secret.withUnsafeBytes { (secret) throws(CryptoError) in
                try check(
                    crypto_box_seal_open(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        box, UInt64(box.count), key.publicKey.bytes,
                        secret.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    ),
                    failure
                )
            }
        }
    }
}
