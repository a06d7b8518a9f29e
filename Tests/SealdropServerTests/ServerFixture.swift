import Foundation
import TestSupport

/// A real `sealdropd serve` on a free loopback port, with the example
/// certificates of `ops/gen-certificates` and a private data directory,
/// driven by OpenSSH's own `sftp`.
final class ServerFixture: @unchecked Sendable {
    let directory: TemporaryDirectory
    let process = Process()
    let port: Int
    let hostKeyFingerprint: String
    /// What the server printed on standard output up to "listening on".
    let startupOutput: String
    private let errors: Pipe

    var trust: String { directory.file("ca/trust") }
    var data: String { directory.file("data") }

    /// - Parameters:
    ///   - settings: extra `key = value` lines for a settings file.
    ///   - reusing: the directory of an earlier fixture, to restart on its data.
    ///   - listen: the address to listen on.
    ///   - environment: variables added to the server's environment.
    init(
        settings: [String] = [], reusing earlier: TemporaryDirectory? = nil, listen: String = "127.0.0.1:0", environment: [String: String] = [:]
    ) throws {
        if let earlier {
            directory = earlier
        } else {
            directory = try TemporaryDirectory()
            let made = try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop])
            guard made.status == 0 else { throw FixtureError.setup(made.standardError) }
        }
        process.executableURL = URL(fileURLWithPath: Fixtures.sealdropd)
        process.arguments = ["serve", "--data", directory.file("data"), "--trust", directory.file("ca/trust"), "--listen", listen]
        if !settings.isEmpty {
            process.arguments! += ["--config", try directory.write(Array((settings.joined(separator: "\n") + "\n").utf8), to: "sealdropd.conf")]
        }
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let output = Pipe()
        errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The first two lines say the host key fingerprint and the port.
        var text = ""
        let reader = output.fileHandleForReading
        while !text.contains("listening on") || !text.hasSuffix("\n") {
            let chunk = reader.availableData
            guard !chunk.isEmpty else { throw FixtureError.setup("sealdropd exited: \(text)") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let lines = text.split(separator: "\n")
        guard let portLine = lines.first(where: { $0.hasPrefix("listening on ") }),
            let port = Int(portLine.split(separator: ":").last ?? ""),
            let keyLine = lines.first(where: { $0.hasPrefix("host key fingerprint: ") })
        else { throw FixtureError.setup("unexpected start-up output: \(text)") }
        self.port = port
        startupOutput = text
        hostKeyFingerprint = String(keyLine.dropFirst("host key fingerprint: ".count))
    }

    deinit {
        stop()
    }

    /// SIGKILL: the server dies mid-work, as in a crash or power loss.
    func crash() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then wait: the server stops accepting and exits.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// The server's log so far (standard error), once it has stopped.
    func log() -> String {
        stop()
        return String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Options shared by `sftp` (port flag `-P`) and `ssh` (`-p`).
    func sshOptions(_ identity: String, portFlag: String = "-P", port: Int? = nil) -> [String] {
        [
            portFlag, String(port ?? self.port), "-i", directory.file(identity), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        ]
    }

    /// Runs OpenSSH `sftp -b` as `user` with `identity`'s key, in the fixture
    /// directory; `port` and `options` reach the server another way (through a balancer).
    func sftp(_ user: String, identity: String? = nil, port: Int? = nil, options: [String] = [], _ commands: [String]) throws -> ProcessResult {
        let batch = try directory.write(Array((commands.joined(separator: "\n") + "\n").utf8), to: "batch-\(UUID().uuidString)")
        let tool = Subprocess.which("sftp") ?? "/usr/bin/sftp"
        return try Subprocess.run(tool, sshOptions(identity ?? user, port: port) + options + ["-b", batch, "\(user)@127.0.0.1"], directory: directory.path)
    }

    /// Runs the `sealdrop` command line in the fixture directory with its trust store.
    func sealdrop(_ arguments: [String]) throws -> ProcessResult {
        try Subprocess.run(Fixtures.sealdrop, arguments, environment: ["SEALDROP_TRUST": trust], directory: directory.path)
    }

    /// Seals `bytes` from `sender` for `recipient`; returns the envelope's file name.
    func seal(_ bytes: [UInt8], from sender: String = "oldvendor", to recipient: String = "newvendor", name: String = "x") throws -> String {
        _ = try directory.write(bytes, to: name + ".plain")
        let result = try sealdrop(["seal", name + ".plain", "-o", name + ".sealdrop", "--to", recipient, "--identity", sender])
        guard result.status == 0 else { throw FixtureError.setup(result.standardError) }
        return name + ".sealdrop"
    }

    func entries(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.file("data/" + folder))) ?? []).sorted()
    }
}

enum FixtureError: Error {
    case setup(String)
}
