internal import CLibSSH
#if canImport(Glibc)
    import Glibc
#endif

/// Owns one libssh `ssh_key` and frees it; the pointer never leaves this file.
final class SSHKey {
    private let handle: ssh_key

    private init(handle: ssh_key) {
        self.handle = handle
    }

    deinit {
        ssh_key_free(handle)
    }

    /// Imports an armoured private key, decrypting it with `passphrase`.
    static func importPrivate(armored: String, passphrase: String?) throws(SSHError) -> SSHKey {
        var key: ssh_key?
        let result = ssh_pki_import_privkey_base64(armored, passphrase, nil, nil, &key)
        guard result == SSH_OK, let key else {
            throw SSHError(.keyImportFailed, "libssh could not decrypt the private key")
        }
        return SSHKey(handle: key)
    }

    /// Exports the private key in OpenSSH format, encrypted when a passphrase is given.
    func exportPrivate(passphrase: String?) throws(SSHError) -> String {
        var out: UnsafeMutablePointer<CChar>?
        let result = ssh_pki_export_privkey_base64(handle, passphrase, nil, nil, &out)
        guard result == SSH_OK, let out else {
            throw SSHError(.keyExportFailed, "libssh could not export the private key")
        }
        defer {
            // The export holds key material: wipe it before libssh frees it.
            memset(out, 0, strlen(out))
            ssh_string_free_char(out)
        }
        return String(cString: out)
    }
}
