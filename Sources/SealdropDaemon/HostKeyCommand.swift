import ArgumentParser
import Foundation
import SealdropKeys

/// `sealdropd host-key`: the SSH host key and its rollover. libssh serves
/// one key per type, so two Ed25519 keys cannot be offered at once: the
/// overlap is on the vendors' side instead. The operator prepares the next
/// key and announces its fingerprint; vendors pin it beside the current one
/// (`sealdrop init --add-host-key`); at a set time the operator activates
/// it and restarts the server; vendors then unpin the old one.
struct HostKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host-key",
        abstract: "Print the SSH host key fingerprint; prepare and activate the next one (a rollover).",
        discussion: """
            --prepare writes ssh_host_ed25519_key.next in the data directory and prints its fingerprint \
            for vendors to pin. --activate (server stopped) keeps the current key as \
            ssh_host_ed25519_key.retired-TIME and puts the next one in its place.
            """
    )

    @Flag(help: "Make the next host key (if there is none yet) and print its fingerprint.")
    var prepare = false

    @Flag(help: "Make the next host key the current one (stop the server first, start it after).")
    var activate = false

    @OptionGroup var options: SettingsOptions

    static let file = "ssh_host_ed25519_key"

    func validate() throws {
        if prepare && activate { throw ValidationError("--prepare and --activate are separate steps: vendors pin the next key in between") }
    }

    func run() throws {
        let directory = try options.settings().dropBox.dataDirectory
        let current = directory + "/" + Self.file
        let next = current + ".next"
        umask(0o077)
        if prepare {
            if !FileManager.default.fileExists(atPath: next) {
                try VendorIdentity.generate(comment: "sealdropd host key").write(to: next)
            }
            print("next host key fingerprint: \(try VendorIdentity.load(path: next, passphrase: .none).fingerprint)")
            print("announce it; vendors run: sealdrop init --add-host-key FINGERPRINT; then: sealdropd host-key --activate")
            return
        }
        if activate {
            guard FileManager.default.fileExists(atPath: next) else {
                throw ValidationError("there is no next host key in \(directory): run sealdropd host-key --prepare and let vendors pin it first")
            }
            let fresh = try VendorIdentity.load(path: next, passphrase: .none)
            if FileManager.default.fileExists(atPath: current) {
                let retired = current + ".retired-\(Int(Date().timeIntervalSince1970))"
                for suffix in ["", ".pub"] where FileManager.default.fileExists(atPath: current + suffix) {
                    guard rename(current + suffix, retired + suffix) == 0 else { throw ValidationError("cannot move \(current + suffix) aside") }
                }
            }
            for suffix in ["", ".pub"] where FileManager.default.fileExists(atPath: next + suffix) {
                guard rename(next + suffix, current + suffix) == 0 else { throw ValidationError("cannot move \(next + suffix) into place") }
            }
            print("host key fingerprint: \(fresh.fingerprint) (restart sealdropd to serve it)")
            return
        }
        guard FileManager.default.fileExists(atPath: current) else {
            throw ValidationError("\(directory) has no host key yet: sealdropd serve makes it at its first start")
        }
        print("host key fingerprint: \(try VendorIdentity.load(path: current, passphrase: .none).fingerprint)")
        if FileManager.default.fileExists(atPath: next) {
            print("next host key fingerprint: \(try VendorIdentity.load(path: next, passphrase: .none).fingerprint)")
        }
    }
}
