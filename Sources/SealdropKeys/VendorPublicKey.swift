import Foundation
import SealdropCrypto
import SealdropFormat

/// A vendor's public Ed25519 key, as found in its OpenSSH `.pub` file.
public struct VendorPublicKey: Hashable, Sendable, CustomStringConvertible {
    public let ssh: SSHEd25519PublicKey
    public let signingKey: Ed25519PublicKey
    /// SHA-256 of the SSH key blob: what `ssh-keygen -lf` prints.
    public let fingerprint: Fingerprint

    public init(_ ssh: SSHEd25519PublicKey) throws(KeyFileError) {
        do {
            signingKey = try Ed25519PublicKey(bytes: ssh.rawKey)
            _ = try signingKey.x25519PublicKey()
        } catch {
            throw KeyFileError(.malformed, "the key is not a valid Ed25519 point")
        }
        self.ssh = ssh
        fingerprint = Fingerprint(bytes: Digest.sha256(ssh.blob))!
    }

    /// The X25519 key a file key is sealed to.
    public var encryptionKey: X25519PublicKey {
        // Checked in init.
        try! signingKey.x25519PublicKey()
    }

    /// Reads an OpenSSH public key file (`KEY.pub`).
    public static func load(path: String) throws(KeyFileError) -> VendorPublicKey {
        let text = try KeyFiles.readText(path)
        do {
            return try VendorPublicKey(SSHEd25519PublicKey(authorizedKeyText: text))
        } catch {
            throw error.naming(path)
        }
    }

    public var description: String { "\(fingerprint)" }
}
