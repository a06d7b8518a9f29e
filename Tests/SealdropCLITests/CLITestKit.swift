import Foundation
import TestSupport

/// Runs the built `sealdrop` executable in a private directory holding two
/// vendor keys made by `sealdrop keygen`.
final class CLIWorkspace: @unchecked Sendable {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
        for vendor in ["oldvendor", "newvendor", "stranger"] {
            let result = try run(["keygen", "-o", vendor, "--comment", vendor])
            guard result.status == 0 else { throw CLIWorkspaceError.setup(result.standardError) }
        }
    }

    @discardableResult
    func run(_ arguments: [String], input: [UInt8]? = nil, environment: [String: String] = [:]) throws -> ProcessResult {
        try Subprocess.run(Fixtures.sealdrop, arguments, input: input, environment: environment, directory: directory.path)
    }

    func path(_ name: String) -> String { directory.file(name) }

    func seal(_ input: String, to output: String, extra: [String] = []) throws -> ProcessResult {
        try run(["seal", input, "-o", output, "--to", "newvendor.pub", "--identity", "oldvendor"] + extra)
    }

    func open(_ input: String, to output: String, extra: [String] = []) throws -> ProcessResult {
        try run(["open", input, "-o", output, "--identity", "newvendor", "--from", "oldvendor.pub"] + extra)
    }
}

enum CLIWorkspaceError: Error {
    case setup(String)
}
