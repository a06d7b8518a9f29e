import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropSSH

/// A vendor's private identity: one Ed25519 key that logs in over SSH,
/// signs envelope headers and, converted to X25519, opens envelopes.
public final class VendorIdentity: Sendable {
    public let signingKey: Ed25519PrivateKey
    public let publicKey: VendorPublicKey

    public init(signingKey: Ed25519PrivateKey, comment: String = "") {
        self.signingKey = signingKey
        // A key derived by libsodium is always a valid point.
        publicKey = try! VendorPublicKey(SSHEd25519PublicKey(rawKey: signingKey.publicKey.bytes, comment: comment))
    }

    public var fingerprint: Fingerprint { publicKey.fingerprint }

    /// The X25519 key that opens what was sealed to this vendor.
    public func decryptionKey() -> X25519PrivateKey {
        signingKey.x25519PrivateKey()
    }

    /// A new random identity.
    public static func generate(comment: String = "") -> VendorIdentity {
        VendorIdentity(signingKey: .generate(), comment: comment)
    }

    /// Loads an OpenSSH Ed25519 private key file, asking `passphrase` only
    /// if the file is protected.
    public static func load(path: String, passphrase: PassphraseSource = .environmentOrTerminal) throws(KeyFileError) -> VendorIdentity {
        let text = try KeyFiles.readText(path)
        do {
            return try decode(text: text, passphrase: { () throws(KeyFileError) in try passphrase.passphrase(for: path) })
        } catch {
            throw error.naming(path)
        }
    }

    static func decode(text: String, passphrase: () throws(KeyFileError) -> String) throws(KeyFileError) -> VendorIdentity {
        var file = try OpenSSHPrivateKeyFile(text: text)
        if file.isEncrypted {
            let secret = try passphrase()
            let plain: String
            do {
                plain = try PrivateKeyCipher.decrypt(armored: text, passphrase: secret)
            } catch {
                throw KeyFileError(.wrongPassphrase, "the passphrase is wrong (or the encrypted key is corrupt)")
            }
            file = try OpenSSHPrivateKeyFile(text: plain)
        }
        var part = try file.decodePrivatePart()
        defer { part.seed.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        let key: Ed25519PrivateKey
        do {
            key = try Ed25519PrivateKey(seed: SecretBytes(copying: part.seed))
        } catch {
            throw KeyFileError(.malformed, "the Ed25519 seed is invalid")
        }
        guard key.publicKey.bytes == part.publicKey.rawKey else {
            throw KeyFileError(.malformed, "the public key does not belong to the private key")
        }
        return VendorIdentity(signingKey: key, comment: part.comment)
    }

    /// The key as unencrypted OpenSSH private key text, for handing to an
    /// SSH library in memory (never written anywhere by this call).
    public func openSSHPrivateKeyText() -> String {
        var seed = signingKey.seed.withUnsafeBytes { Array($0) }
        defer { seed.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        return OpenSSHPrivateKeyFile.encode(seed: seed, publicKey: publicKey.ssh, checkNumber: SecureRandom.uint32())
    }

    /// Writes `path` (mode 0600) and `path.pub` (mode 0644), refusing to
    /// replace either. With a passphrase, the private key is encrypted the
    /// way `ssh-keygen -N` does.
    public func write(to path: String, passphrase: String? = nil) throws(KeyFileError) {
        let publicPath = path + ".pub"
        for existing in [path, publicPath] where FileManager.default.fileExists(atPath: existing) {
            throw KeyFileError(.unwritable, "\(existing) already exists; choose another path or remove it first")
        }
        var seed = signingKey.seed.withUnsafeBytes { Array($0) }
        defer { seed.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        var text = OpenSSHPrivateKeyFile.encode(seed: seed, publicKey: publicKey.ssh, checkNumber: SecureRandom.uint32())
        if let passphrase {
            do {
                text = try PrivateKeyCipher.encrypt(armored: text, passphrase: passphrase)
            } catch {
                throw KeyFileError(.unwritable, "the key could not be encrypted: \(error)")
            }
        }
        try KeyFiles.write(text, to: path, mode: 0o600)
        do {
            try KeyFiles.write(publicKey.ssh.authorizedKeyLine + "\n", to: publicPath, mode: 0o644)
        } catch {
            unlink(path)
            throw error
        }
    }
}
