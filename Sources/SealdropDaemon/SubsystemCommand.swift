import ArgumentParser
import Foundation
import SealdropFormat
import SealdropKeys
import SealdropServer
import SealdropTrust

/// `sealdropd sftp-subsystem`: one session over stdin/stdout, for running
/// under OpenSSH's sshd in hardened deployments: `ForceCommand sealdropd
/// sftp-subsystem --config FILE` with `ExposeAuthInfo yes` (the vendor is
/// the one whose certificate holds the key sshd accepted), or with
/// `--vendor NAME` where sshd has bound the key to that vendor itself.
struct SubsystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sftp-subsystem",
        abstract: "Serve one SFTP session on standard input and output (behind OpenSSH's sshd)."
    )

    @Option(
        help: ArgumentHelp(
            "The vendor this session belongs to (sshd has checked its key). Without it, the key sshd accepted (ExposeAuthInfo, $SSH_USER_AUTH) names the vendor.",
            valueName: "name"))
    var vendor: String?

    @OptionGroup var options: SettingsOptions

    func run() throws {
        // The same limits and lease as `serve`: several processes share one
        // store, and the rules (one download at a time, leases) hold across them.
        var settings = try options.settings()
        // Every subsystem process stages in one folder of its own, which a
        // `serve` starting beside them never cleans (BlobStore).
        settings.dropBox.nodeID = BlobStore.subsystemNodeID
        let dropBox = try settings.openRunningDropBox()
        dropBox.reap()
        let environment = ProcessInfo.processInfo.environment
        let source = environment["SSH_CLIENT"].map { String($0.prefix { $0 != " " }) } ?? "local"
        let found: VerifiedParty?
        if let authPath = environment["SSH_USER_AUTH"] {
            // sshd wrote the key it accepted; it decides, and a --vendor given
            // too (a per-key command) must agree with it.
            guard let key = Self.acceptedKey(authPath) else {
                DaemonLog.line("session refused: \(authPath) names no Ed25519 public key")
                throw ExitCode(1)
            }
            found = dropBox.subsystemVendor(key: key, claimedName: vendor, sourceAddress: source)
        } else if let vendor {
            found = dropBox.subsystemVendor(vendor, sourceAddress: source)
        } else {
            throw ValidationError("no vendor: pass --vendor NAME, or run behind sshd with ExposeAuthInfo yes")
        }
        guard let party = found else { throw ExitCode(1) }
        let session = SFTPSession(dropBox: dropBox, vendor: party, sourceAddress: source)
        // No acceptor watches this session: it checks its vendor itself.
        session.trustRecheckInterval = settings.revocationCheckInterval
        defer { dropBox.flushRefusals(all: true) }
        SFTPConnection(session: session).run(
            receive: { buffer in
                while true {
                    let count = read(0, buffer.baseAddress, buffer.count)
                    if count < 0, errno == EINTR { continue }
                    return count
                }
            },
            send: { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, bytes.count - offset) }
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else { throw CocoaError(.fileWriteUnknown) }
                    offset += written
                }
            })
    }
}

extension SubsystemCommand {
    /// The public key in sshd's `ExposeAuthInfo` file (`publickey
    /// ssh-ed25519 BASE64` lines; the last one is the method that let the
    /// session in). Nil when it names none or is not an Ed25519 key.
    static func acceptedKey(_ path: String) -> VendorPublicKey? {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 64 * 1024 else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        guard let line = lines.last(where: { $0.hasPrefix("publickey ") }) else { return nil }
        let text = String(line.dropFirst("publickey ".count))
        return try? VendorPublicKey(SSHEd25519PublicKey(authorizedKeyText: text))
    }
}
