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
    var server: String?

    @Option(help: ArgumentHelp("Your vendor name.", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("Your OpenSSH Ed25519 private key.", valueName: "key"))
    var identity: String?

    @Option(help: ArgumentHelp("The CA certificate to pin.", valueName: "ca.pem"))
    var ca: String?

    @Option(
        name: .customLong("host-key"),
        help: ArgumentHelp("The server's host key fingerprint, SHA256:... (several, comma-separated, during a rollover).", valueName: "fingerprint"))
    var hostKey: String?

    @Option(
        name: .customLong("add-host-key"),
        help: ArgumentHelp("Pin one more host key in the existing profile (the operator's announced next key).", valueName: "fingerprint"))
    var addHostKey: String?

    @Option(
        name: .customLong("remove-host-key"),
        help: ArgumentHelp("Unpin a host key from the existing profile (the retired key, after a rollover).", valueName: "fingerprint"))
    var removeHostKey: String?

    @Option(help: "The profile to write.")
    var profile = "default"

    @Flag(help: "Replace an existing profile.")
    var force = false

    /// Editing the pins of an existing profile, rather than writing one.
    var editingPins: Bool { addHostKey != nil || removeHostKey != nil }

    func validate() throws {
        if let problem = VendorName.problem(with: profile) { throw ValidationError("--profile: \(problem)") }
        let fingerprintRule = "a fingerprint as sealdropd and ssh-keygen print it: SHA256: and 43 characters"
        if editingPins {
            guard server == nil, name == nil, identity == nil, ca == nil, hostKey == nil, !force else {
                throw ValidationError("--add-host-key and --remove-host-key change an existing profile's pins and take no other setting")
            }
            for pin in [addHostKey, removeHostKey].compactMap({ $0 }) where !HostKeyPins.isFingerprint(pin) {
                throw ValidationError("\(pin) is not \(fingerprintRule)")
            }
            return
        }
        guard let server, !server.isEmpty else { throw ValidationError("missing --server") }
        guard let name else { throw ValidationError("missing --name") }
        guard identity != nil else { throw ValidationError("missing --identity") }
        guard ca != nil else { throw ValidationError("missing --ca") }
        guard let hostKey else { throw ValidationError("missing --host-key") }
        if let problem = VendorName.problem(with: name) { throw ValidationError("--name: \(problem)") }
        let pins = HostKeyPins.parse(hostKey)
        guard !pins.isEmpty, pins.allSatisfy(HostKeyPins.isFingerprint) else {
            throw ValidationError("--host-key must be \(fingerprintRule)")
        }
    }

    func run() throws {
        if editingPins { return try editPins() }
        guard let server, let name, let identity, let ca, let hostKey else { return }
        _ = try VendorIdentity.load(path: identity)
        let caCertificate = try TrustStore.checkAnchor(path: ca)
        let absolute = { (path: String) in path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path }
        let pins = HostKeyPins.join(HostKeyPins.parse(hostKey))
        let saved = ClientProfile(server: server, hostKey: pins, name: name, identity: absolute(identity), ca: absolute(ca))
        let path = ClientProfile.path(named: profile)
        if FileManager.default.fileExists(atPath: path), !force {
            throw CLIFailure(message: "\(path) already exists", hint: "pass --force to replace it, or --profile to keep several", status: .usage)
        }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try Data(saved.text().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        print("saved profile \(profile) to \(path)\npinned CA: \(caCertificate.fingerprint)\npinned host key: \(pins)")
    }

    /// A host-key rollover, on the vendor's side: the next key is pinned
    /// beside the current one before the drop box switches, and the old one
    /// unpinned after. The last pin cannot be removed.
    private func editPins() throws {
        let path = ClientProfile.path(named: profile)
        guard var saved = try ClientProfile.load(named: profile) else {
            throw CLIFailure(message: "there is no profile \(profile) (\(path))", hint: "run 'sealdrop init' with all its settings first", status: .usage)
        }
        var pins = HostKeyPins.parse(saved.hostKey)
        if let addHostKey, !pins.contains(addHostKey) { pins.append(addHostKey) }
        if let removeHostKey {
            guard pins.contains(removeHostKey) else {
                throw CLIFailure(message: "profile \(profile) does not pin \(removeHostKey)", status: .usage)
            }
            guard pins.count > 1 else {
                throw CLIFailure(
                    message: "\(removeHostKey) is the only host key profile \(profile) pins", hint: "pin the new key first (--add-host-key)",
                    status: .usage)
            }
            pins.removeAll { $0 == removeHostKey }
        }
        saved.hostKey = HostKeyPins.join(pins)
        try Data(saved.text().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        print("profile \(profile) pins host key \(pins.joined(separator: " and "))")
    }
}
