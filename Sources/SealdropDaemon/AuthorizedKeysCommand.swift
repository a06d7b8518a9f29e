import ArgumentParser
import Foundation
import SealdropServer
import SealdropStorePostgres
import SealdropTrust

/// `sealdropd authorized-keys USER`: sshd's `AuthorizedKeysCommand`, so that
/// behind the host's OpenSSH the vendor certificates stay the only source
/// of truth. Prints the key the valid certificate of vendor USER names, or
/// every valid vendor's key for the shared login account; prints nothing
/// for an unknown, revoked or expired vendor, and nothing at all (exit 1)
/// when the trust store does not verify: a broken store lets nobody in.
struct AuthorizedKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authorized-keys",
        abstract: "Print the authorized_keys lines sshd may accept for a login (AuthorizedKeysCommand).",
        discussion: """
            In sshd_config: AuthorizedKeysCommand /usr/bin/sealdropd authorized-keys --config /etc/sealdrop/sealdropd.conf --shared-account sealdrop %u
            """
    )

    @Argument(help: ArgumentHelp("The login name sshd asks about (%u).", valueName: "user"))
    var user: String

    @Option(
        help: ArgumentHelp(
            "The account every vendor logs in as; for it, every vendor with a valid certificate is listed (the session then finds the vendor by its key).",
            valueName: "account"))
    var sharedAccount: String?

    @OptionGroup var options: SettingsOptions

    func run() throws {
        let settings = try options.settings()
        let trust: TrustStore
        do {
            // The floor is read, not raised: sshd may run this as an account
            // that cannot write the data directory (the sessions raise it).
            // With a shared database the nodes keep it there, not in the
            // data directory's file (which they then never write).
            let floor: UInt64
            if let database = settings.database {
                floor = try PostgresTransferStore.revocationFloor(settings: PostgresSettings(url: database))
            } else {
                floor = try RevocationFloor(file: settings.dropBox.dataDirectory + "/revocation-list-number").number
            }
            trust = try TrustStore.load(directory: settings.dropBox.trustDirectory, revocationFloor: floor)
        } catch {
            // sshd shows our standard error in its log; no key is printed.
            FileHandle.standardError.write(Data("sealdropd: error: no keys: the trust store does not verify: \(error)\n".utf8))
            throw ExitCode(1)
        }
        // Keys the store makes unusable are left out below; say why in sshd's log.
        for problem in trust.diagnostics { FileHandle.standardError.write(Data("sealdropd: warning: \(problem)\n".utf8)) }
        for line in DropBox.authorizedKeyLines(user: user, sharedAccount: sharedAccount, trust: trust) { print(line) }
    }
}
