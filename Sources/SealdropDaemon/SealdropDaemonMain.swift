import ArgumentParser
import Foundation

/// Runs the `sealdropd` command line.
public enum SealdropDaemonMain {
    public static func run() -> Never {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try SealdropdCommand.parseAsRoot()
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
        subcommands: [ServeCommand.self, SubsystemCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}

/// Where the drop box keeps its data and trust store.
struct StorageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The data directory: metadata and blobs.", valueName: "dir"))
    var data = "sealdrop-data"

    @Option(help: ArgumentHelp("The trust store: CA, vendor certificates, revocations.", valueName: "dir"))
    var trust = "Certificates"
}

/// Logs to standard error, one line per event, never file contents or keys.
enum DaemonLog {
    static func line(_ text: String) {
        let stamp = ISO8601DateFormatter().string(from: Date())
        FileHandle.standardError.write(Data("\(stamp) sealdropd: \(text)\n".utf8))
    }
}
