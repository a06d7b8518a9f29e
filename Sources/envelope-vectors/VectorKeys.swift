import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropKeys

/// The three fixed identities vectors are made with.
struct VectorKey {
    let name: String
    let seed: [UInt8]
    let identity: VendorIdentity

    init(name: String) {
        self.name = name
        // A seed derived from the name: fixed, and obviously not secret.
        seed = Digest.sha256(Array("sealdrop test vector key: \(name)".utf8))
        identity = VendorIdentity(signingKey: try! Ed25519PrivateKey(seed: SecretBytes(copying: seed)), comment: name)
    }

    var manifestEntry: [String: String] {
        [
            "seed": Hex.encode(seed),
            "public_key": Hex.encode(identity.publicKey.ssh.rawKey),
            "fingerprint": identity.fingerprint.description,
            "openssh_public_key": identity.publicKey.ssh.authorizedKeyLine,
        ]
    }

    /// Writes NAME and NAME.pub (OpenSSH format) for tools and CLI tests.
    func writeKeyFiles(to directory: String) throws {
        let path = directory + "/" + name
        for file in [path, path + ".pub"] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.removeItem(atPath: file)
        }
        try identity.write(to: path)
    }
}
