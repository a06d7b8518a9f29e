import SealdropKeys
import SealdropSFTP
import SealdropSSH

/// A logged-in SFTP session with a drop box, over a host-key-pinned SSH connection.
public final class DropBoxClient {
    public let sftp: SFTPClient
    private let ssh: SSHClientConnection

    public var hostKeyFingerprint: String { ssh.hostKeyFingerprint }

    public init(host: String, port: Int, pinnedHostKey: String, user: String, identity: VendorIdentity) throws {
        let ssh = try SSHClientConnection(
            host: host, port: port, user: user, pinnedHostKey: pinnedHostKey, privateKeyPEM: identity.openSSHPrivateKeyText())
        self.ssh = ssh
        sftp = try SFTPClient(
            receive: { buffer in try ssh.read(into: buffer) },
            send: { bytes in try ssh.write(bytes) })
    }
}
