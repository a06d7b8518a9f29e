import ArgumentParser
import Foundation
import SealdropClient
import SealdropIO
import SealdropKeys
import SealdropSSH
import SealdropTrust

/// How to reach and trust the drop box: flags, else `SEALDROP_*`
/// environment variables, else the profile written by `sealdrop init`.
struct ClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The profile to use (default: default).", valueName: "name"))
    var profile = "default"

    @Option(help: ArgumentHelp("The drop box, HOST[:PORT] (default port 2222).", valueName: "host[:port]"))
    var server: String?

    @Option(name: .customLong("host-key"), help: ArgumentHelp("The server's pinned host key fingerprint, SHA256:...", valueName: "fingerprint"))
    var hostKey: String?

    @Option(help: ArgumentHelp("Your vendor name (your SSH user name).", valueName: "name"))
    var vendor: String?

    @Option(help: ArgumentHelp("Your OpenSSH Ed25519 private key.", valueName: "key"))
    var identity: String?

    @Option(help: ArgumentHelp("The pinned CA certificate (ca.pem).", valueName: "file"))
    var ca: String?

    @Option(
        help: ArgumentHelp(
            "Seconds to wait for the drop box at each step before giving up (a download must also advance by 64 KiB in that time).",
            valueName: "seconds"))
    var timeout: Int = SSHClientConnection.defaultTimeout

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout is 1 to 3600 seconds") }
    }

    /// Beside the profile: the highest revocation list number this profile has seen.
    var revocationFloorFile: String { besideProfile(".revocation-list-number") }

    /// Beside the profile: the last receipt-log tree head this profile saw (it witnesses the log).
    var treeHeadFile: String { besideProfile(".tree-head.json") }

    /// Beside the profile: the ids of every transfer this profile received.
    var receivedJournalFile: String { besideProfile(".received") }

    private func besideProfile(_ suffix: String) -> String {
        let path = ClientProfile.path(named: profile)
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return String(path.dropLast(".conf".count)) + suffix
    }

    /// Connects with the settings in force, then witnesses the receipt log.
    func connect() throws -> (DropBoxClient, ClientProfile) {
        let profile = try resolve()
        let dropBox = try profile.connect(timeout: timeout)
        try witness(dropBox, try trust(dropBox, profile, vendors: []))
        return (dropBox, profile)
    }

    /// Every command checks the drop box's signed tree head extends the one
    /// this profile saw last (a split view or a rewritten log fails here, loudly).
    func witness(_ dropBox: DropBoxClient, _ trust: TrustStore) throws {
        if let witnessed = try dropBox.witnessTreeHead(trust: trust, file: treeHeadFile) {
            let before = witnessed.previousSize.map { "extends the \($0) seen before" } ?? "first seen"
            Terminal.info("receipt log: \(witnessed.head.size) entries, signed head \(witnessed.head.root.prefix(16))… (\(before))")
            if witnessed.keyChanged {
                Terminal.warning(
                    "the drop box's receipt key changed: the new head is signed by another key the CA certified for the server role, and extends the head seen before"
                )
            }
        } else {
            Terminal.warning("the drop box publishes no signed tree head yet (its receipt key is not certified): this profile cannot witness its log")
        }
    }

    /// The trust store for one command: the pinned CA (read, never
    /// written) and what the drop box's `/directory` serves, verified in
    /// memory. `vendors` nil fetches every listed vendor certificate.
    func trust(_ dropBox: DropBoxClient, _ profile: ClientProfile, vendors: [String]?) throws -> TrustStore {
        var pinned = try FileDescriptor.openForReading(profile.ca)
        var bytes = [UInt8](repeating: 0, count: DropBoxClient.maximumTrustFileSize + 1)
        let count = try bytes.withUnsafeMutableBytes { try pinned.readFully(into: $0) }
        guard count <= DropBoxClient.maximumTrustFileSize else {
            throw CLIFailure(message: "\(profile.ca) is larger than a CA certificate can be", status: .trust)
        }
        return try dropBox.fetchTrust(
            pinnedCA: Array(bytes[0..<count]), pinnedCASource: profile.ca, vendors: vendors, floor: try RevocationFloor(file: revocationFloorFile))
    }

    /// The settings in force, each from the first place that has it.
    func resolve() throws -> ClientProfile {
        let environment = ProcessInfo.processInfo.environment
        let stored = try ClientProfile.load(named: profile)
        func pick(_ flag: String?, _ variable: String, _ saved: String?, _ what: String) throws -> String {
            if let value = flag ?? environment[variable] ?? saved, !value.isEmpty { return value }
            throw CLIFailure(
                message: "no \(what) is set", hint: "run 'sealdrop init' once, or pass it as a flag or in \(variable)", status: .usage)
        }
        return ClientProfile(
            server: try pick(server, "SEALDROP_SERVER", stored?.server, "server"),
            hostKey: try pick(hostKey, "SEALDROP_HOST_KEY", stored?.hostKey, "pinned host key"),
            name: try pick(vendor, "SEALDROP_NAME", stored?.name, "vendor name"),
            identity: try pick(identity, "SEALDROP_IDENTITY", stored?.identity, "identity key"),
            ca: try pick(ca, "SEALDROP_CA", stored?.ca, "pinned CA certificate"))
    }
}

/// A saved connection profile: `$XDG_CONFIG_HOME/sealdrop/NAME.conf`.
struct ClientProfile: Equatable {
    var server: String
    var hostKey: String
    var name: String
    var identity: String
    var ca: String

    static let keys = ["server", "host-key", "name", "identity", "ca"]

    static func path(named profile: String) -> String {
        let environment = ProcessInfo.processInfo.environment
        let base =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
        return base + "/sealdrop/" + profile + ".conf"
    }

    static func load(named profile: String) throws -> ClientProfile? {
        let path = path(named: profile)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var values: [String: String] = [:]
        for (index, line) in text.split(separator: "\n").enumerated() where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, keys.contains(parts[0]) else {
                throw CLIFailure(message: "\(path):\(index + 1): expected one of \(keys.joined(separator: ", ")) = value", status: .usage)
            }
            values[parts[0]] = parts[1]
        }
        return ClientProfile(
            server: values["server"] ?? "", hostKey: values["host-key"] ?? "", name: values["name"] ?? "",
            identity: values["identity"] ?? "", ca: values["ca"] ?? "")
    }

    func text() -> String {
        """
        # sealdrop client profile, written by `sealdrop init`.
        server = \(server)
        host-key = \(hostKey)
        name = \(name)
        identity = \(identity)
        ca = \(ca)

        """
    }

    var hostAndPort: (host: String, port: Int) {
        if let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]) {
            return (String(server[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
        }
        return (server, 2222)
    }

    /// Connects and logs in; a wrong host key is refused before anything is sent.
    func connect(timeout: Int) throws -> DropBoxClient {
        let identity = try VendorIdentity.load(path: self.identity)
        let (host, port) = hostAndPort
        return try DropBoxClient(host: host, port: port, pinnedHostKey: hostKey, user: name, identity: identity, timeout: timeout)
    }
}
