import ArgumentParser
import Foundation
import SealdropServer

/// `sealdropd backup --to FILE`: a consistent copy of the metadata, taken
/// while the server runs (SQLite's online backup API).
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the metadata database (transfers and the receipt log) consistently, while the server runs.",
        discussion: """
            The file is written beside FILE and renamed into place (mode 0600). Envelope blobs are \
            not in it: a restore never needs them back, since a transfer whose blob is gone is ended. \
            For PostgreSQL metadata use pg_dump (README, "Backup and restore").
            """
    )

    @Option(help: ArgumentHelp("The backup file to write.", valueName: "file"))
    var to: String

    @OptionGroup var options: SettingsOptions

    func run() throws {
        let settings = try options.settings()
        umask(0o077)
        let dropBox = try settings.openRunningDropBox()
        let entries = try dropBox.backupMetadata(to: to)
        print("backed up the metadata of \(settings.dropBox.dataDirectory) to \(to) (\(entries) log entries)")
    }
}
