import ArgumentParser
import Foundation
import SealdropKeys
import SealdropTrust

/// `sealdrop init`: save how to reach and trust the drop box.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Save a profile: the drop box, its pinned host key, your name, key and pinned CA.",
        discussion: """
            Written to $XDG_CONFIG_HOME/sealdrop/PROFILE.conf (default ~/.config). There is no \
            trust on first use: get the host key fingerprint from the operator (sealdropd prints it).
            """
    )

    @Option(help: ArgumentHelp("The drop box, HOST[:PORT].", valueName: "host[:port]"))
    var server: String

    @Option(help: ArgumentHelp("Your vendor name.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("Your OpenSSH Ed25519 private key.", valueName: "key"))
    var identity: String

    @Option(help: ArgumentHelp("The CA certificate to pin.", valueName: "ca.pem"))
    var ca: String

    @Option(name: .customLong("host-key"), help: ArgumentHelp("The server's host key fingerprint, SHA256:...", valueName: "fingerprint"))
    var hostKey: String

    @Option(help: "The profile to write.")
    var profile = "default"

    @Flag(help: "Replace an existing profile.")
    var force = false

    func validate() throws {
        if let problem = VendorName.problem(with: name) { throw ValidationError("--name: \(problem)") }
        guard hostKey.hasPrefix("SHA256:"), hostKey.count == 50 else {
            throw ValidationError("--host-key must be a fingerprint as sealdropd and ssh-keygen print it: SHA256: and 43 characters")
        }
        if let problem = VendorName.problem(with: profile) { throw ValidationError("--profile: \(problem)") }
    }

    func run() throws {
        _ = try VendorIdentity.load(path: identity)
        let caCertificate = try TrustStore.checkAnchor(path: ca)
        let absolute = { (path: String) in path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path }
        let saved = ClientProfile(server: server, hostKey: hostKey, name: name, identity: absolute(identity), ca: absolute(ca))
        let path = ClientProfile.path(named: profile)
        if FileManager.default.fileExists(atPath: path), !force {
            throw CLIFailure(message: "\(path) already exists", hint: "pass --force to replace it, or --profile to keep several", status: .usage)
        }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try Data(saved.text().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        print("saved profile \(profile) to \(path)\npinned CA: \(caCertificate.fingerprint)\npinned host key: \(hostKey)")
    }
}
