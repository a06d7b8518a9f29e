import ArgumentParser
import Foundation
import SealdropKeys

/// `sealdrop keygen`: a new vendor identity as an OpenSSH Ed25519 key pair.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a vendor key (an OpenSSH Ed25519 key pair).",
        discussion: """
            Writes PATH (private, mode 0600) and PATH.pub. The same key logs in \
            to the drop box, signs what you seal and opens what is sealed for you. \
            ssh-keygen reads it: 'ssh-keygen -lf PATH.pub' shows the same fingerprint.
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the private key.", valueName: "path"))
    var output: String

    @Option(help: "A label stored with the key, such as the vendor name.")
    var comment: String = ""

    @Flag(help: "Protect the private key with a passphrase, read from SEALDROP_PASSPHRASE or asked twice on the terminal.")
    var protect = false

    func run() throws {
        var passphrase: String?
        if protect {
            passphrase = try newPassphrase()
        }
        let identity = VendorIdentity.generate(comment: comment)
        try identity.write(to: output, passphrase: passphrase)
        print("wrote \(output) (private key, mode 0600) and \(output).pub")
        print("fingerprint: \(identity.fingerprint)")
    }

    private func newPassphrase() throws -> String {
        if let value = ProcessInfo.processInfo.environment[PassphraseSource.environmentVariable] {
            guard !value.isEmpty else {
                throw CLIFailure(message: "\(PassphraseSource.environmentVariable) is empty", status: .usage)
            }
            return value
        }
        guard let first = PassphrasePrompt.read("New passphrase: "),
            let second = PassphrasePrompt.read("Same passphrase again: ")
        else {
            throw CLIFailure(
                message: "--protect needs a passphrase and there is no terminal to ask for one",
                hint: "set \(PassphraseSource.environmentVariable)",
                status: .usage
            )
        }
        guard first == second else {
            throw CLIFailure(message: "the two passphrases differ; nothing was written", status: .usage)
        }
        guard !first.isEmpty else {
            throw CLIFailure(message: "an empty passphrase protects nothing; nothing was written", status: .usage)
        }
        return first
    }
}
