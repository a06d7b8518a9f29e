internal import CSodium

/// The tag carried by each secretstream message.
public enum SecretStreamTag: Sendable, Equatable, CustomStringConvertible {
    case message, push, rekey, final
    /// Any other byte: libsodium passes the tag through, so a reader must
    /// be ready for values no writer of ours produces.
    case other(UInt8)

    init(raw: UInt8) {
        switch raw {
        case crypto_secretstream_xchacha20poly1305_tag_message(): self = .message
        case crypto_secretstream_xchacha20poly1305_tag_final(): self = .final
        case crypto_secretstream_xchacha20poly1305_tag_push(): self = .push
        case crypto_secretstream_xchacha20poly1305_tag_rekey(): self = .rekey
        default: self = .other(raw)
        }
    }

    var raw: UInt8 {
        switch self {
        case .message: crypto_secretstream_xchacha20poly1305_tag_message()
        case .push: crypto_secretstream_xchacha20poly1305_tag_push()
        case .rekey: crypto_secretstream_xchacha20poly1305_tag_rekey()
        case .final: crypto_secretstream_xchacha20poly1305_tag_final()
        case .other(let value): value
        }
    }

    public var description: String {
        switch self {
        case .message: "MESSAGE"
        case .push: "PUSH"
        case .rekey: "REKEY"
        case .final: "FINAL"
        case .other(let value): "unknown (0x\(String(value, radix: 16)))"
        }
    }
}

/// Sizes of `crypto_secretstream_xchacha20poly1305`.
public enum SecretStream {
    public static var keyLength: Int { Int(crypto_secretstream_xchacha20poly1305_KEYBYTES) }
    public static var headerLength: Int { Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES) }
    public static var overhead: Int { Int(crypto_secretstream_xchacha20poly1305_ABYTES) }

    /// A fresh random stream key.
    public static func generateKey() -> SecretBytes {
        Sodium.ensureReady()
        return try! SecretBytes(count: keyLength) { out in
            crypto_secretstream_xchacha20poly1305_keygen(out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}

/// The encrypting end of a secretstream. One owner, one thread: the state
/// advances with every message and is wiped on release.
public final class SecretStreamPusher {
    private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>
    /// The stream header the reader needs; random per stream.
    public let header: [UInt8]

    public init(key: SecretBytes) throws(CryptoError) {
        Sodium.ensureReady()
        guard key.count == SecretStream.keyLength else {
            throw CryptoError(.invalidKey, "a secretstream key is \(SecretStream.keyLength) bytes, not \(key.count)")
        }
        let state = UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>.allocate(capacity: 1)
        var header = [UInt8](repeating: 0, count: SecretStream.headerLength)
        let result = key.withUnsafeBytes { keyBytes in
            crypto_secretstream_xchacha20poly1305_init_push(
                state, &header, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            )
        }
        // init_push has no failure mode for a key of the right length.
        precondition(result == 0, "crypto_secretstream_xchacha20poly1305_init_push failed")
        self.state = state
        self.header = header
    }

    deinit {
        sodium_memzero(state, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
        state.deallocate()
    }

    /// Encrypts `message` into `ciphertext`, which must hold
    /// `message.count + SecretStream.overhead` bytes.
    public func push(
        _ message: UnsafeRawBufferPointer, additionalData: [UInt8], tag: SecretStreamTag,
        into ciphertext: UnsafeMutableRawBufferPointer
    ) {
        precondition(ciphertext.count == message.count + SecretStream.overhead)
        // push fails only for a message over its size limit (~256 GiB).
        let result = crypto_secretstream_xchacha20poly1305_push(
            state,
            ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
            message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
            additionalData, UInt64(additionalData.count), tag.raw
        )
        precondition(result == 0, "crypto_secretstream_xchacha20poly1305_push failed")
    }
}

/// The decrypting end of a secretstream.
public final class SecretStreamPuller {
    private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

    public init(key: SecretBytes, header: [UInt8]) throws(CryptoError) {
        Sodium.ensureReady()
        guard key.count == SecretStream.keyLength, header.count == SecretStream.headerLength else {
            throw CryptoError(.invalidKey, "the secretstream key or header has the wrong length")
        }
        let state = UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>.allocate(capacity: 1)
        let result = key.withUnsafeBytes { keyBytes in
            crypto_secretstream_xchacha20poly1305_init_pull(
                state, header, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            )
        }
        guard result == 0 else {
            state.deallocate()
            throw CryptoError(.invalidKey, "the secretstream header is invalid")
        }
        self.state = state
    }

    deinit {
        sodium_memzero(state, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
        state.deallocate()
    }

    /// Decrypts and authenticates one message into `message`, which must hold
    /// `ciphertext.count - SecretStream.overhead` bytes; returns its tag.
    public func pull(
        _ ciphertext: UnsafeRawBufferPointer, additionalData: [UInt8],
        into message: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) -> SecretStreamTag {
        guard ciphertext.count >= SecretStream.overhead,
            message.count == ciphertext.count - SecretStream.overhead
        else {
            throw CryptoError(.authenticationFailed, "the message is shorter than its authentication tag")
        }
        var tag: UInt8 = 0
        try check(
            crypto_secretstream_xchacha20poly1305_pull(
                state,
                message.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, &tag,
                ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
                additionalData, UInt64(additionalData.count)
            ),
            CryptoError(.authenticationFailed, "the message failed authentication")
        )
        return SecretStreamTag(raw: tag)
    }
}
