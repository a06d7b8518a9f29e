import ArgumentParser
import Foundation
import SealdropServer

/// `sealdropd sftp-subsystem`: one session over stdin/stdout, for running
/// under OpenSSH's sshd (`ForceCommand sealdropd sftp-subsystem --vendor NAME`
/// in the vendor's authorized_keys entry) in hardened deployments.
struct SubsystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sftp-subsystem",
        abstract: "Serve one SFTP session on standard input and output (behind OpenSSH's sshd)."
    )

    @Option(help: ArgumentHelp("The vendor this session belongs to (sshd has checked its key).", valueName: "name"))
    var vendor: String

    @Option(
        help: ArgumentHelp(
            "The server's settings file (key = value): limits, quota, claim lease. Its data and trust lines give way to --data and --trust.",
            valueName: "file"))
    var config: String?

    @OptionGroup var storage: StorageOptions

    func run() throws {
        // The same limits and lease as `serve`: several processes share one
        // store, and the rules (one download at a time, leases) hold across them.
        var settings = ServerSettings()
        do {
            if let config { try settings.load(file: config) }
            if let database = storage.database { try settings.setDatabase(database) }
        } catch let error as SettingsError {
            throw ValidationError(error.message)
        }
        var configuration = settings.dropBox
        configuration.dataDirectory = storage.data
        configuration.trustDirectory = storage.trust
        // Every subsystem process stages in one folder of its own, which a
        // `serve` starting beside them never cleans (BlobStore).
        configuration.nodeID = BlobStore.subsystemNodeID
        let dropBox: DropBox
        do {
            dropBox = try DropBox(configuration: configuration, store: settings.openStore(), log: DaemonLog.line, startingUp: false)
        } catch let error as PrivateDirectoryError {
            throw ValidationError(error.description)
        }
        dropBox.reap()
        let source = ProcessInfo.processInfo.environment["SSH_CLIENT"].map { String($0.prefix { $0 != " " }) } ?? "local"
        guard let party = dropBox.subsystemVendor(vendor, sourceAddress: source) else {
            throw ExitCode(1)
        }
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
