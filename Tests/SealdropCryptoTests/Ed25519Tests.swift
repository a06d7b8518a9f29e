import Testing
@testable import SealdropCrypto
import SealdropFormat

@Suite struct Ed25519Tests {
    // RFC 8032 §7.1, TEST 1 (empty message).
    static let seed = Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!
    static let publicKey = Hex.decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")!
    static let signature = Hex.decode(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )!

    @Test func matchesRFC8032TestVector1() throws {
        let key = try Ed25519PrivateKey(seed: SecretBytes(copying: Self.seed))
        #expect(key.publicKey.bytes == Self.publicKey)
        #expect(key.signature(for: []) == Self.signature)
        #expect(key.publicKey.isValidSignature(Self.signature, for: []))
    }

    @Test func rejectsAlteredSignaturesAndMessages() throws {
        let key = Ed25519PrivateKey.generate()
        let message = Array("sealdrop".utf8)
        var signature = key.signature(for: message)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: message + [0]))
        signature[10] ^= 1
        #expect(!key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(Array(signature.prefix(63)), for: message))
        #expect(!Ed25519PrivateKey.generate().publicKey.isValidSignature(key.signature(for: message), for: message))
    }

    @Test func seedRoundTrips() throws {
        let key = try Ed25519PrivateKey(seed: SecretBytes(copying: Self.seed))
        #expect(key.seed.withUnsafeBytes { Array($0) } == Self.seed)
        #expect(throws: CryptoError.self) { try Ed25519PrivateKey(seed: SecretBytes(copying: [1, 2, 3])) }
    }

    @Test func secretsAreNotPrinted() {
        let secret = SecretBytes(copying: Self.seed)
        #expect(!"\(secret)".contains("9d"))
        #expect("\(secret)".contains("redacted"))
    }
}

@Suite struct SealedBoxTests {
    @Test func sealsToTheConvertedEd25519KeyAndOpensWithItsSecret() throws {
        let recipient = Ed25519PrivateKey.generate()
        let message = SecretBytes(copying: Array(0..<32) as [UInt8])
        let box = try SealedBox.seal(message, to: try recipient.publicKey.x25519PublicKey())
        #expect(box.count == 32 + SealedBox.overhead)
        #expect(SealedBox.overhead == 48)
        let opened = try SealedBox.open(box, with: recipient.x25519PrivateKey())
        #expect(opened.withUnsafeBytes { Array($0) } == Array(0..<32))
    }

    @Test func refusesAnotherKeyAndAlteredBoxes() throws {
        let recipient = Ed25519PrivateKey.generate()
        var box = try SealedBox.seal(SecretBytes(copying: [1, 2, 3]), to: try recipient.publicKey.x25519PublicKey())
        #expect(throws: CryptoError(.openFailed, "")) { try SealedBox.open(box, with: Ed25519PrivateKey.generate().x25519PrivateKey()) }
        box[box.count - 1] ^= 1
        #expect(throws: CryptoError(.openFailed, "")) { try SealedBox.open(box, with: recipient.x25519PrivateKey()) }
        #expect(throws: CryptoError(.openFailed, "")) { try SealedBox.open([1, 2], with: recipient.x25519PrivateKey()) }
    }
}

@Suite struct SecretStreamTests {
    func push(_ messages: [([UInt8], SecretStreamTag)], key: SecretBytes, ad: [UInt8] = []) throws -> ([UInt8], [[UInt8]]) {
        let pusher = try SecretStreamPusher(key: key)
        let sealed = messages.map { message, tag in
            var out = [UInt8](repeating: 0, count: message.count + SecretStream.overhead)
            message.withUnsafeBytes { plain in out.withUnsafeMutableBytes { pusher.push(plain, additionalData: ad, tag: tag, into: $0) } }
            return out
        }
        return (pusher.header, sealed)
    }

    func pull(_ sealed: [UInt8], with puller: SecretStreamPuller, ad: [UInt8] = []) throws -> ([UInt8], SecretStreamTag) {
        var out = [UInt8](repeating: 0, count: sealed.count - SecretStream.overhead)
        let tag = try sealed.withUnsafeBytes { input in try out.withUnsafeMutableBytes { try puller.pull(input, additionalData: ad, into: $0) } }
        return (out, tag)
    }

    @Test func roundTripsWithTags() throws {
        let key = SecretStream.generateKey()
        let (header, sealed) = try push([([1, 2, 3], .message), ([], .final)], key: key, ad: [9])
        let puller = try SecretStreamPuller(key: key, header: header)
        #expect(try pull(sealed[0], with: puller, ad: [9]) == ([1, 2, 3], .message))
        #expect(try pull(sealed[1], with: puller, ad: [9]) == ([], .final))
    }

    @Test func detectsReorderingWrongAdditionalDataAndTampering() throws {
        let key = SecretStream.generateKey()
        let (header, sealed) = try push([([1], .message), ([2], .message), ([3], .final)], key: key, ad: [7])
        #expect(throws: CryptoError(.authenticationFailed, "")) {
            try pull(sealed[1], with: try SecretStreamPuller(key: key, header: header), ad: [7])
        }
        #expect(throws: CryptoError(.authenticationFailed, "")) {
            try pull(sealed[0], with: try SecretStreamPuller(key: key, header: header), ad: [8])
        }
        var altered = sealed[0]
        altered[0] ^= 1
        #expect(throws: CryptoError(.authenticationFailed, "")) {
            try pull(altered, with: try SecretStreamPuller(key: key, header: header), ad: [7])
        }
    }
}

@Suite struct DigestTests {
    @Test func sha256KnownAnswers() {
        #expect(Hex.encode(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.encode(Digest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}

@Suite struct FormatConstantsTests {
    /// The envelope's named sizes are libsodium's, not copies that could drift.
    @Test func envelopeSizesMatchLibsodium() {
        #expect(EnvelopeFormat.chunkOverhead == SecretStream.overhead)
        #expect(EnvelopeFormat.streamHeaderLength == SecretStream.headerLength)
        #expect(EnvelopeFormat.sealedFileKeyLength == SealedBox.overhead + SecretStream.keyLength)
        #expect(EnvelopeFormat.signatureLength == 64)
    }
}
