import ArgumentParser
import Foundation
import SealdropFormat
import SealdropKeys
import SealdropTrust

/// `sealdrop ca`: the operator's certificate authority.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Run the certificate authority that binds vendor names to keys.",
        discussion: """
            The CA folder holds the CA's private key (mode 0600) and a record of what \
            it issued; DIR/trust is the trust store to publish (copy it to each \
            machine's Certificates/ folder or pass it with --trust).
            """,
        subcommands: [CAInitCommand.self, CAIssueCommand.self, CARevokeCommand.self, CARefreshCommand.self]
    )
}

struct CAInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a CA: an Ed25519 key and a self-signed CA certificate."
    )

    @Option(help: ArgumentHelp("The CA folder to create (keep it private; never inside a trust store).", valueName: "dir"))
    var dir: String

    @Option(help: "The CA's name, shown in every certificate it issues.")
    var name = "sealdrop CA"

    @Option(help: "How many days the CA certificate is valid.")
    var days = 3650

    @Flag(help: "Protect the CA key with a passphrase from SEALDROP_PASSPHRASE.")
    var protect = false

    func validate() throws {
        guard days > 0 else { throw ValidationError("--days must be at least 1") }
        guard !name.isEmpty, name.count <= 64 else { throw ValidationError("--name must be 1 to 64 characters") }
    }

    func run() throws {
        var passphrase: String?
        if protect {
            guard let value = ProcessInfo.processInfo.environment[PassphraseSource.environmentVariable], !value.isEmpty else {
                throw CLIFailure(message: "--protect needs the passphrase in \(PassphraseSource.environmentVariable)", status: .usage)
            }
            passphrase = value
        }
        let authority = try CertificateAuthority.create(directory: dir, name: name, days: days, passphrase: passphrase)
        print(
            """
            created CA "\(name)" in \(dir)
            private key:   \(dir)/\(CertificateAuthority.keyFile) (mode 0600; keep it offline if you can)
            trust store:   \(authority.trustDirectory) (publish this folder)
            certificate:   \(authority.trustDirectory)/\(TrustStore.caFile), fingerprint \(authority.certificate.fingerprint)
            """)
    }
}

struct CAIssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue a certificate binding a vendor (or server) name to its key."
    )

    @Option(name: .customLong("ca-dir"), help: ArgumentHelp("The CA folder.", valueName: "dir"))
    var caDir: String

    @Option(help: ArgumentHelp("The vendor name: a-z, 0-9 and '-', 1 to 63 characters, no leading or trailing '-'.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The vendor's OpenSSH Ed25519 public key (the key it logs in with).", valueName: "key.pub"))
    var pubkey: String

    @Option(help: "vendor (sends and receives) or server (the drop box).")
    var role: RoleArgument = .vendor

    @Option(help: "How many days the certificate is valid (never beyond the CA's own expiry).")
    var days = 365

    @Flag(help: "Replace an existing certificate for NAME (key rotation); revoke the old one afterwards.")
    var replace = false

    func validate() throws {
        if let problem = VendorName.problem(with: name) { throw ValidationError("--name \"\(name)\" is not a valid name: \(problem)") }
        guard days > 0 else { throw ValidationError("--days must be at least 1") }
    }

    func run() throws {
        var authority = try CertificateAuthority.load(directory: caDir)
        let key = try VendorPublicKey.load(path: pubkey)
        let issued = try authority.issue(name: try VendorName(name), subjectKey: key, role: role.role, days: days, replace: replace)
        let folder = role.role == .vendor ? TrustStore.vendorsFolder : TrustStore.serverFolder
        print(
            """
            issued a \(role.role) certificate for \(name)
            file:        \(authority.trustDirectory)/\(folder)/\(name).pem
            serial:      \(Hex.encode(issued.certificate.serialNumber.bytes))
            key:         \(key.fingerprint)
            valid until: \(CertificateVerifier.format(issued.certificate.notValidAfter))
            """)
    }
}

struct CARevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a vendor's certificates (by name) or one certificate (by serial)."
    )

    @Option(name: .customLong("ca-dir"), help: ArgumentHelp("The CA folder.", valueName: "dir"))
    var caDir: String

    @Argument(help: ArgumentHelp("A vendor name (revokes all its current certificates) or a serial in hex.", valueName: "name-or-serial"))
    var target: String

    @Option(
        help: ArgumentHelp(
            "Why: \(RevocationList.Reason.allCases.map(\.description).joined(separator: ", ")).",
            valueName: "reason"
        ))
    var reason = "unspecified"

    func validate() throws {
        guard RevocationList.Reason(name: reason) != nil else {
            throw ValidationError("--reason must be one of \(RevocationList.Reason.allCases.map(\.description).joined(separator: ", "))")
        }
    }

    func run() throws {
        var authority = try CertificateAuthority.load(directory: caDir)
        let revoked = try authority.revoke(target, reason: RevocationList.Reason(name: reason)!)
        for record in revoked {
            print("revoked \(record.role) certificate \(record.serial) of \(record.name) (\(reason))")
        }
        print("published \(authority.trustDirectory)/\(TrustStore.revocationFile); distribute it to every trust store")
    }
}

struct CARefreshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crl",
        abstract: "Re-sign the revocation list before it expires (valid 90 days)."
    )

    @Option(name: .customLong("ca-dir"), help: ArgumentHelp("The CA folder.", valueName: "dir"))
    var caDir: String

    func run() throws {
        var authority = try CertificateAuthority.load(directory: caDir)
        try authority.publishRevocationList()
        print("published \(authority.trustDirectory)/\(TrustStore.revocationFile)")
    }
}

enum RoleArgument: String, ExpressibleByArgument, CaseIterable {
    case vendor, server

    var role: CertificateRole { self == .vendor ? .vendor : .server }
}
