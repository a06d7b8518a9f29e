import Foundation
import SealdropClient
import SealdropEnvelope
import SealdropIO
import SealdropKeys
import SealdropSFTP
import SealdropTrust
import TestSupport

/// The example certificates (`ops/gen-certificates`), a malicious server
/// presenting the `dropbox` key, envelopes sealed by the real `sealdrop`,
/// and `sealdrop init` profiles pinning that host key and the CA.
final class HostileFixture: @unchecked Sendable {
    let directory: TemporaryDirectory
    let server: MaliciousServer
    /// XDG_CONFIG_HOME for the `sealdrop` binary, holding the profiles.
    var environment: [String: String]

    var trust: String { directory.file("ca/trust") }

    init() throws {
        directory = try TemporaryDirectory()
        let made = try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop])
        guard made.status == 0 else { throw HostileFixtureError.setup(made.standardError) }
        server = try MaliciousServer(hostKey: directory.file("dropbox"))
        environment = ["XDG_CONFIG_HOME": directory.file("config"), "SEALDROP_TRUST": "/nonexistent"]
        for vendor in ["newvendor", "oldvendor"] {
            let initialised = try Subprocess.run(
                Fixtures.sealdrop,
                [
                    "init", "--server", "127.0.0.1:\(server.port)", "--name", vendor, "--identity", vendor, "--ca", "ca/trust/ca.pem",
                    "--host-key", server.hostKeyFingerprint, "--profile", vendor,
                ],
                environment: environment, directory: directory.path)
            guard initialised.status == 0 else { throw HostileFixtureError.setup(initialised.standardError) }
        }
        serveHonestDirectory()
    }

    deinit {
        server.stop()
    }

    /// `/directory` as an honest drop box serves it: the CA, the list, every vendor.
    func serveHonestDirectory() {
        var entries = [MaliciousServer.entry("ca.pem"), MaliciousServer.entry("revocations.crl")]
        server.files["/directory/ca.pem"] = read("ca/trust/ca.pem")
        server.files["/directory/revocations.crl"] = read("ca/trust/revocations.crl")
        for vendor in ["oldvendor", "newvendor", "stranger", "formervendor"] {
            server.files["/directory/\(vendor).pem"] = read("ca/trust/vendors/\(vendor).pem")
            entries.append(MaliciousServer.entry("\(vendor).pem"))
        }
        server.listings["/directory"] = entries
        server.listings["/inbox"] = []
    }

    func read(_ name: String) -> [UInt8] {
        (try? directory.read(name)) ?? []
    }

    /// Seals `plaintext` with the real `sealdrop seal`; returns the envelope and its id.
    func seal(_ plaintext: [UInt8], from sender: String = "oldvendor", to recipient: String = "newvendor", name: String = "extract.sql")
        throws -> (bytes: [UInt8], id: String)
    {
        let input = try directory.write(plaintext, to: "plain-\(UUID().uuidString)")
        let output = directory.file("sealed-\(UUID().uuidString)")
        let sealed = try Subprocess.run(
            Fixtures.sealdrop, ["seal", input, "-o", output, "--to", recipient, "--identity", sender, "--name", name],
            environment: ["SEALDROP_TRUST": trust], directory: directory.path)
        guard sealed.status == 0 else { throw HostileFixtureError.setup(sealed.standardError) }
        var source = try FileDescriptor.openForReading(output)
        let header = try EnvelopeHeaderReader.read(from: &source)
        return ([UInt8](try Data(contentsOf: URL(fileURLWithPath: output))), header.header.transferIDString)
    }

    /// Puts `envelope` in the inbox under `id` (its own, or another: a swap).
    func offer(_ envelope: [UInt8], as id: String, sender: String = "oldvendor") {
        server.files["/inbox/\(id).sealdrop"] = envelope
        server.listings["/inbox", default: []].append(MaliciousServer.entry("\(id).sealdrop", owner: sender, size: UInt64(envelope.count)))
    }

    /// A library client logged in as `vendor`, with a short timeout.
    func client(_ vendor: String = "newvendor", timeout: Int = 3) throws -> DropBoxClient {
        try DropBoxClient(
            host: "127.0.0.1", port: server.port, pinnedHostKey: server.hostKeyFingerprint, user: vendor,
            identity: try VendorIdentity.load(path: directory.file(vendor), passphrase: .none), timeout: timeout)
    }

    /// The trust store a client builds from the pinned CA and the server's `/directory`.
    func trustStore(_ dropBox: DropBoxClient, vendors: [String]? = nil) throws -> TrustStore {
        try dropBox.fetchTrust(pinnedCA: read("ca/trust/ca.pem"), pinnedCASource: "ca.pem", vendors: vendors, floor: nil)
    }

    /// Runs the real `sealdrop` as `profile` in the fixture directory.
    func sealdrop(_ arguments: [String], profile: String = "newvendor") throws -> ProcessResult {
        try Subprocess.run(Fixtures.sealdrop, arguments + ["--profile", profile, "--timeout", "3"], environment: environment, directory: directory.path)
    }

    /// The bytes of every pinned file (profiles, the CA): they must never change.
    func pinnedFiles() -> [String: [UInt8]] {
        ["config/sealdrop/newvendor.conf", "config/sealdrop/oldvendor.conf", "ca/trust/ca.pem"].reduce(into: [:]) { $0[$1] = read($1) }
    }

    /// Every file under the fixture directory, relative, for "nothing written outside" checks.
    func allFiles() -> Set<String> {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        var names = Set<String>()
        while let name = enumerator?.nextObject() as? String { names.insert(name) }
        return names
    }
}

enum HostileFixtureError: Error {
    case setup(String)
}

/// True when `text` holds no control, format (bidi) or separator character
/// other than newline: what reached the terminal was sanitised.
func isTerminalSafe(_ text: String) -> Bool {
    text.unicodeScalars.allSatisfy { scalar in
        if scalar == "\n" { return true }
        if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) { return false }
        switch scalar.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator: return false
        default: return true
        }
    }
}
