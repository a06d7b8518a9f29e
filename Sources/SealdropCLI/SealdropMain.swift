import ArgumentParser
import Foundation
import SealdropFormat
import SealdropIO

/// Runs the `sealdrop` command line and exits with a documented code.
public enum SealdropMain {
    public static func run(arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
        // A closed pipe must become an error we report, not a silent death.
        signal(SIGPIPE, SIG_IGN)
        InterruptCleanup.installHandlers()
        let code = execute(arguments)
        exit(code.rawValue)
    }

    static func execute(_ arguments: [String]) -> ExitStatus {
        do {
            var command = try SealdropCommand.parseAsRoot(arguments)
            try command.run()
            return .success
        } catch {
            return report(error)
        }
    }

    private static func report(_ error: Error) -> ExitStatus {
        if let failure = CLIFailure(libraryError: error) {
            Terminal.error(failure.message)
            if let hint = failure.hint { Terminal.hint(hint) }
            return failure.status
        }
        if SealdropCommand.exitCode(for: error) == .success {
            // --help, --version.
            print(SealdropCommand.fullMessage(for: error))
            return .success
        }
        guard Self.isArgumentError(error) else {
            // An error no one mapped: say what it is, and do not call it a usage error.
            Terminal.error("\(error)")
            return .failure
        }
        let message = SealdropCommand.message(for: error)
        Terminal.error(message.isEmpty ? "invalid arguments" : message)
        Terminal.hint("run 'sealdrop help' or 'sealdrop COMMAND --help' for usage")
        return .usage
    }
}

extension SealdropMain {
    /// Errors of argument parsing and validation, which ArgumentParser reports.
    static func isArgumentError(_ error: Error) -> Bool {
        error is ValidationError || error is CleanExit || error is ExitCode
            || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }
}

/// The root command; subcommands live one per file in `Commands/`.
struct SealdropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealdrop",
        abstract: "Seal database extracts end to end for one named vendor.",
        discussion: ExitStatus.helpText,
        version: "0.1.0",
        subcommands: [
            InitCommand.self, SendCommand.self, InboxCommand.self, ReceiveCommand.self, StatusCommand.self, RevokeCommand.self, ReceiptCommand.self,
            KeygenCommand.self, SealCommand.self, OpenCommand.self, InspectCommand.self, CACommand.self, CertCommand.self, AuditCommand.self,
        ]
    )
}
