import ArgumentParser
import Foundation
import Logging

/// Runs the `sealdropd` command line.
public enum SealdropDaemonMain {
    public static func run() -> Never {
        signal(SIGPIPE, SIG_IGN)
        // Before anything can start a thread: see StopSignals.
        StopSignals.block()
        do {
            var command = try SealdropdCommand.parseAsRoot()
            if !(command is ServeCommand) { StopSignals.unblock() }
            try command.run()
            exit(0)
        } catch {
            SealdropdCommand.exit(withError: error)
        }
    }
}

struct SealdropdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealdropd",
        abstract: "The sealdrop drop box server.",
        subcommands: [ServeCommand.self, SubsystemCommand.self, LogCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}

/// Where the drop box keeps its data and trust store.
struct StorageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The data directory: metadata and blobs.", valueName: "dir"))
    var data = "sealdrop-data"

    @Option(help: ArgumentHelp("The trust store: CA, vendor certificates, revocations.", valueName: "dir"))
    var trust = "Certificates"

    @Option(
        help: ArgumentHelp(
            "The metadata database when it is not the SQLite file in the data directory: postgres://USER@HOST:PORT/DB.", valueName: "url"))
    var database: String?
}

/// Logs through swift-log to standard error, one line per event; never key
/// material or file contents (the drop box only ever passes facts).
enum DaemonLog {
    static let logger: Logger = {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        return Logger(label: "sealdropd")
    }()

    static func line(_ text: String) {
        logger.info("\(text)")
    }
}
