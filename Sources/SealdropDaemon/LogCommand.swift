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
        abstract: "Write every log entry, a signed tree head and the certificates to check them (for sealdrop audit verify).",
        discussion: "JSON lines (format sealdrop-log-lines-v1): a header line, then one line per entry, streamed from the store."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The export to write (JSON lines).", valueName: "file"))
    var output: String

    @OptionGroup var storage: StorageOptions

    func run() throws {
        let dropBox = try DropBox(
            configuration: DropBoxConfiguration(dataDirectory: storage.data, trustDirectory: storage.trust), log: DaemonLog.line, startingUp: false)
        let head = try ReceiptLog(dropBox: dropBox).export(to: output)
        print("exported \(head.size) entries, tree head \(head.root) to \(output)")
    }
}
