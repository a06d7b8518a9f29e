import Foundation
import SealdropKeys
import SealdropLayout
import SealdropSFTP
import SealdropSSH

/// A logged-in session with a drop box, over a host-key-pinned SSH
/// connection: the vendor's side of the protocol (send, inbox, receive,
/// revoke, status, receipt, acknowledge, declare, fetchTrust).
///
/// The drop box is not trusted with anything but transport and storage:
/// every path sent is built from `VirtualPath`, every answer is checked
/// (`TransferEntry`, `SFTPClient`'s limits), every wait is bounded by the
/// connection's timeout, and nothing it says becomes a local path.
public final class DropBoxClient {
    public let sftp: SFTPClient
    private let ssh: SSHClientConnection
    /// The vendor logged in.
    public let vendor: String
    public let identity: VendorIdentity
    /// Seconds for each answer; a download must also advance by a block within it.
    public let timeout: Int

    public var hostKeyFingerprint: String { ssh.hostKeyFingerprint }

    /// True when the drop box echoed `DropBoxAttributes.initExtension`: it
    /// then promised typed attributes on every `/inbox` and `/sent` entry.
    public var hasTypedAttributes: Bool {
        sftp.serverExtensions[DropBoxAttributes.initExtension] == Array(DropBoxAttributes.initExtensionVersion.utf8)
    }

    /// - Parameter timeout: seconds for connecting, the key exchange and
    ///   login, and then for each answer of the server.
    ///   - login: the SSH user name when it is not the vendor's (a drop box
    ///     behind the host's sshd, where every vendor logs in as one account
    ///     and is told apart by its key).
    public init(
        host: String, port: Int, pinnedHostKey: String, user: String, identity: VendorIdentity, timeout: Int = SSHClientConnection.defaultTimeout,
        login: String? = nil
    ) throws {
        if let problem = VendorNameRule.problem(with: user) { throw DropBoxError(.invalidName, "\"\(user)\" is not a vendor name: \(problem)") }
        let ssh = try SSHClientConnection(
            host: host, port: port, user: login ?? user, pinnedHostKey: pinnedHostKey, privateKeyPEM: identity.openSSHPrivateKeyText(),
            timeout: timeout)
        self.ssh = ssh
        self.vendor = user
        self.identity = identity
        self.timeout = timeout
        sftp = try SFTPClient(
            receive: { buffer in try ssh.read(into: buffer) },
            send: { bytes in try ssh.write(bytes) },
            extensions: [(DropBoxAttributes.initExtension, DropBoxAttributes.initExtensionVersion)])
        sftp.minimumProgressSeconds = Double(timeout)
    }

    /// The transfers waiting for this vendor, each checked.
    public func inbox() throws -> [TransferEntry] {
        try listing(.inbox)
    }

    /// What this vendor sent and its state, each checked.
    public func status() throws -> [TransferEntry] {
        try listing(.sent)
    }

    /// A folder's entries, each checked, each id once: a listing that names
    /// a transfer twice is a server lying, and is refused whole.
    private func listing(_ folder: TransferEntry.Folder) throws -> [TransferEntry] {
        let entries = try sftp.list(folder.rawValue).map { try TransferEntry.parse($0, in: folder, vendor: vendor, typed: hasTypedAttributes) }
        guard Set(entries.map(\.id)).count == entries.count else {
            throw DropBoxError(.protocolViolation, "the drop box listed a transfer twice in \(folder.rawValue); nothing was used")
        }
        return entries
    }

    /// The size of transfer `id` in the inbox, or nil when the drop box
    /// does not offer it. With typed attributes, they are checked too (a
    /// transfer addressed to someone else is refused).
    public func waitingSize(_ id: String) throws -> UInt64? {
        let id = try Self.checked(id)
        let attributes: SFTPAttributes
        do {
            attributes = try sftp.stat(VirtualPath.inboxFile(transferID: id).canonical)
        } catch let error as DropBoxError where error.code == .notFound {
            return nil
        }
        if hasTypedAttributes { _ = try TransferEntry.parse(attributes: attributes, id: id, in: .inbox, vendor: vendor, typed: true) }
        guard let size = attributes.size else { throw DropBoxError(.missingAttribute, "the drop box gave no size for transfer \(id)") }
        return size
    }

    /// Revokes a transfer this vendor sent that has not been downloaded.
    public func revoke(_ id: String) throws {
        try sftp.remove(VirtualPath.sentFile(transferID: try Self.checked(id)).canonical)
    }

    /// `id` as a transfer id (lower-cased), or a usage-level error.
    public static func checked(_ id: String) throws -> String {
        let lowered = id.lowercased()
        guard TransferID.isValid(lowered) else {
            throw DropBoxError(.invalidName, "\"\(UntrustedText.printable(id, limit: 64))\" is not a transfer id (32 hexadecimal digits)")
        }
        return lowered
    }
}
