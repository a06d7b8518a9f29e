import ArgumentParser
import Foundation
import SealdropLog
import SealdropServer

/// `sealdropd log export`: the receipt log for a compliance officer.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "The signed receipt log.",
        subcommands: [LogExportCommand.self, LogRotateKeyCommand.self]
    )
}

struct LogExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every log entry, a signed tree head and the certificates to check them (for sealdrop audit verify).",
        discussion: "JSON lines (format sealdrop-log-lines-v1): a header line, then one line per entry, streamed from the store."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The export to write (JSON lines).", valueName: "file"))
    var output: String

    @OptionGroup var options: SettingsOptions

    @Option(help: ArgumentHelp("The cluster's receipt key, when the nodes are given one (overrides the file's receipt-key).", valueName: "file"))
    var receiptKey: String?

    func run() throws {
        var settings = try options.settings()
        if let receiptKey { settings.dropBox.receiptKeyPath = receiptKey }
        let head = try ReceiptLog(dropBox: settings.openRunningDropBox()).export(to: output)
        print("exported \(head.size) entries, tree head \(head.root) to \(output)")
    }
}

struct LogRotateKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Replace the receipt key, in two steps, without a moment uncertified.",
        discussion: """
            First run: makes the next key (DATA/receipt_ed25519_key.next) and prints the command that certifies it. \
            Second run, once its server certificate is in the trust store: makes it the receipt key. Restart sealdropd \
            then. Keep the old certificate in the trust store: vendors and auditors check heads signed before with it.
            """
    )

    @OptionGroup var options: SettingsOptions

    func run() throws {
        let storage = try options.settings().dropBox
        switch try ReceiptLog.rotateKey(dataDirectory: storage.dataDirectory, trustDirectory: storage.trustDirectory) {
        case .madeNextKey(let fingerprint, let publicKey):
            print("made the next receipt key \(fingerprint) (\(publicKey))")
            print("certify it: sealdrop ca issue --ca-dir CA-DIR --name NEW-NAME --role server --pubkey \(publicKey)")
            print("copy CA-DIR/trust/server/NEW-NAME.pem to \(storage.trustDirectory)/server/, then run 'sealdropd log rotate-key' again")
        case .rotated(let fingerprint):
            print("the receipt key is now \(fingerprint); restart sealdropd to sign with it")
        }
    }
}
