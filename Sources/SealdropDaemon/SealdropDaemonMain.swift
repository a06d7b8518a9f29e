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
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, SubsystemCommand.self, LogCommand.self, AuthorizedKeysCommand.self, SweepCommand.self, BackupCommand.self,
            RestoreCommand.self, HostKeyCommand.self,
        ],
        defaultSubcommand: ServeCommand.self
    )
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
