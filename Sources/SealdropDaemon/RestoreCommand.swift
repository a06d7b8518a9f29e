import ArgumentParser
import Foundation
import SealdropLog
import SealdropServer

/// `sealdropd restore --from FILE`: puts a metadata backup back without
/// making any transfer that ended since the backup available again.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a metadata backup; transfers delivered, revoked or expired since then stay ended.",
        discussion: """
            Stop the server first (a running node's lock refuses the restore). The log entries written \
            after the backup are taken from the current database (when it still opens) and from --log \
            exports (each checked whole against its own signed head and certificate), and appended; the \
            largest tree head the drop box signed (log-head.json in the data directory, an export's, or \
            --log-head, each verified against the receipt-key certificates) says whether any are missing. \
            Every pending transfer that ended, lost its file or was being downloaded since the backup is \
            ended and its file deleted. The replaced database is kept beside the new one.
            """
    )

    @Option(help: ArgumentHelp("The backup to restore (from sealdropd backup).", valueName: "file"))
    var from: String

    @Option(help: ArgumentHelp("A log export (sealdropd log export) newer than the backup; repeatable.", valueName: "file"))
    var log: [String] = []

    @Option(help: ArgumentHelp("A tree head a vendor or auditor kept (NAME.tree-head.json); repeatable.", valueName: "file"))
    var logHead: [String] = []

    @Flag(help: "When log entries after the backup are lost: end every pending transfer instead of refusing.")
    var endPending = false

    @OptionGroup var options: SettingsOptions

    func run() throws {
        let settings = try options.settings()
        guard settings.database == nil else {
            throw ValidationError("restore works on the SQLite metadata; restore PostgreSQL with pg_restore (README, \"Backup and restore\")")
        }
        umask(0o077)
        var restore = DropBoxRestore(configuration: settings.dropBox, log: DaemonLog.line)
        let decoder = JSONDecoder()
        do {
            restore.logExports = try log.map(DropBoxRestore.readExport)
        } catch let error as RestoreError {
            throw ValidationError(error.description)
        }
        for path in logHead {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            if let head = try? decoder.decode(SignedTreeHead.self, from: data) {
                restore.heads.append((path, head))
            } else if let published = try? decoder.decode(PublishedHead.self, from: data) {
                restore.heads.append((path, published.treeHead))
            } else {
                throw ValidationError("\(path) is not a tree head")
            }
        }
        restore.acceptLostEntries = endPending
        let report: DropBoxRestore.Report
        do {
            report = try restore.run(backup: from)
        } catch let error as RestoreError {
            FileHandle.standardError.write(Data("sealdropd: error: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
        print(
            "restored \(from): \(report.backupEntries) log entries from the backup, \(report.appendedEntries) appended after them (log size \(report.logSize))"
        )
        for (id, reason) in report.ended.sorted(by: { $0.key < $1.key }) { print("ended \(id): \(reason)") }
        print("\(report.kept) transfers still available")
        if let replaced = report.replacedDatabase { print("the replaced database is kept as \(replaced)") }
    }
}
