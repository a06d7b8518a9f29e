/// Passphrase protection of OpenSSH private key files (bcrypt-pbkdf and
/// aes256-ctr), which libsodium does not provide, done by libssh.
///
/// Both directions take and return armoured `openssh-key-v1` text, so the
/// caller parses keys with its own pure codec and no libssh type escapes.
public enum PrivateKeyCipher {
    /// Decrypts a passphrase-protected key file into an unencrypted one.
    public static func decrypt(armored: String, passphrase: String) throws(SSHError) -> String {
        try SSHKey.importPrivate(armored: armored, passphrase: passphrase).exportPrivate(passphrase: nil)
    }

    /// Re-encrypts an unencrypted key file with `passphrase`.
    public static func encrypt(armored: String, passphrase: String) throws(SSHError) -> String {
        try SSHKey.importPrivate(armored: armored, passphrase: nil).exportPrivate(passphrase: passphrase)
    }
}
