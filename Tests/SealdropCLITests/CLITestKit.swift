import Foundation
import TestSupport

/// Runs the built `sealdrop` executable in a private directory holding the
/// example certificate set of `ops/gen-certificates`: a CA in `ca/`, its
/// trust store `ca/trust`, and vendor keys with certificates (oldvendor,
/// newvendor, stranger; formervendor revoked; dropbox as server).
final class CLIWorkspace: @unchecked Sendable {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
        try check(Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop]))
    }

    private func check(_ result: ProcessResult) throws {
        guard result.status == 0 else { throw CLIWorkspaceError.setup(result.standardError) }
    }

    /// Runs sealdrop with `ca/trust` as the trust store (through SEALDROP_TRUST).
    @discardableResult
    func run(_ arguments: [String], input: [UInt8]? = nil, environment: [String: String] = [:]) throws -> ProcessResult {
        var env = ["SEALDROP_TRUST": directory.file("ca/trust")]
        env.merge(environment) { $1 }
        return try Subprocess.run(Fixtures.sealdrop, arguments, input: input, environment: env, directory: directory.path)
    }

    func path(_ name: String) -> String { directory.file(name) }

    func seal(_ input: String, to output: String, extra: [String] = []) throws -> ProcessResult {
        try run(["seal", input, "-o", output, "--to", "newvendor", "--identity", "oldvendor"] + extra)
    }

    func open(_ input: String, to output: String, extra: [String] = []) throws -> ProcessResult {
        try run(["open", input, "-o", output, "--identity", "newvendor", "--from", "oldvendor"] + extra)
    }
}

enum CLIWorkspaceError: Error {
    case setup(String)
}
