import Foundation
import TestSupport

/// Runs the built `sealdrop` executable in a private directory holding
/// three vendor keys made by `sealdrop keygen`, a CA made by `sealdrop ca
/// init`, and a certificate for each vendor in the trust store `ca/trust`.
final class CLIWorkspace: @unchecked Sendable {
    let directory: TemporaryDirectory
    static let vendors = ["oldvendor", "newvendor", "stranger"]

    init() throws {
        directory = try TemporaryDirectory()
        try check(run(["ca", "init", "--dir", "ca", "--name", "Test CA"]))
        for vendor in Self.vendors {
            try check(run(["keygen", "-o", vendor, "--comment", vendor]))
            try check(run(["ca", "issue", "--ca-dir", "ca", "--name", vendor, "--pubkey", vendor + ".pub"]))
        }
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
