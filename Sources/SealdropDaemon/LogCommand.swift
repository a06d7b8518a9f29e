import ArgumentParser
import Foundation
import SealdropLog
import SealdropServer

/// `sealdropd log export`: the receipt log for a compliance officer.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "The signed receipt log.",
        subcommands: [LogExportCommand.self]
    )
}

struct LogExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every log entry, a signed tree head and the certificates to check them (for sealdrop audit verify)."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The bundle to write (JSON).", valueName: "file"))
    var output: String

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("The cluster's receipt key, when the nodes are given one (their receipt-key setting).", valueName: "file"))
    var receiptKey: String?

    func run() throws {
        var settings = ServerSettings()
        do {
            if let database = storage.database { try settings.setDatabase(database) }
        } catch let error as SettingsError {
            throw ValidationError(error.message)
        }
        var configuration = DropBoxConfiguration(dataDirectory: storage.data, trustDirectory: storage.trust)
        configuration.receiptKeyPath = receiptKey
        let dropBox = try DropBox(configuration: configuration, store: settings.openStore(), log: DaemonLog.line, startingUp: false)
        let bundle = try ReceiptLog(dropBox: dropBox).export()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(bundle).write(to: URL(fileURLWithPath: output), options: .atomic)
        print("exported \(bundle.treeHead.size) entries, tree head \(bundle.treeHead.root) to \(output)")
    }
}
