import Foundation
import Testing
import SealdropFormat
import SealdropKeys
import TestSupport

/// Keys made by the real `ssh-keygen`, and keys we make read by it.
@Suite struct SSHKeygenInteropTests {
    static let sshKeygen = Subprocess.which("ssh-keygen")

    func sshKeygen(_ arguments: [String]) throws -> ProcessResult {
        let tool = try #require(Self.sshKeygen, "ssh-keygen is required (apt-get install openssh-client)")
        return try Subprocess.run(tool, arguments)
    }

    @Test func sshKeygenReadsOurKey() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("vendor")
        let identity = VendorIdentity.generate(comment: "acme-lis")
        try identity.write(to: path)

        let derived = try sshKeygen(["-y", "-f", path])
        #expect(derived.status == 0, "\(derived.standardError)")
        let published = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        #expect(derived.output.trimmingCharacters(in: .whitespacesAndNewlines) == published.trimmingCharacters(in: .whitespacesAndNewlines))

        let listed = try sshKeygen(["-lf", path + ".pub"])
        #expect(listed.output.contains(identity.fingerprint.description))

        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func sshKeygenReadsOurProtectedKey() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("vendor")
        let identity = VendorIdentity.generate()
        try identity.write(to: path, passphrase: "correct horse")
        let derived = try sshKeygen(["-y", "-P", "correct horse", "-f", path])
        #expect(derived.status == 0, "\(derived.standardError)")
        #expect(derived.output.contains(identity.publicKey.ssh.authorizedKeyLine.split(separator: " ")[1]))
        let reloaded = try VendorIdentity.load(path: path, passphrase: .fixed("correct horse"))
        #expect(reloaded.fingerprint == identity.fingerprint)
    }

    @Test func loadsSSHKeygenKeys() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("id_ed25519")
        #expect(try sshKeygen(["-q", "-t", "ed25519", "-N", "", "-C", "lab", "-f", path]).status == 0)
        let identity = try VendorIdentity.load(path: path, passphrase: .none)
        let publicKey = try VendorPublicKey.load(path: path + ".pub")
        #expect(identity.fingerprint == publicKey.fingerprint)
        #expect(try sshKeygen(["-lf", path + ".pub"]).output.contains(publicKey.fingerprint.description))
        let message = Array("signed".utf8)
        #expect(publicKey.signingKey.isValidSignature(identity.signingKey.signature(for: message), for: message))
    }

    @Test func loadsPassphraseProtectedSSHKeygenKeys() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("id_ed25519")
        #expect(try sshKeygen(["-q", "-t", "ed25519", "-N", "s3cret pass", "-f", path]).status == 0)
        let identity = try VendorIdentity.load(path: path, passphrase: .fixed("s3cret pass"))
        #expect(identity.fingerprint == (try VendorPublicKey.load(path: path + ".pub")).fingerprint)

        #expect(throws: KeyFileError(.wrongPassphrase, "")) { try VendorIdentity.load(path: path, passphrase: .fixed("wrong")) }
        #expect(throws: KeyFileError(.passphraseUnavailable, "")) { try VendorIdentity.load(path: path, passphrase: .none) }
        do {
            _ = try VendorIdentity.load(path: path, passphrase: .fixed("wrong"))
        } catch {
            #expect(error.message.contains(path), "the error names the file")
        }
    }

    @Test func refusesOtherKeyTypesNamingTheFile() throws {
        let directory = try TemporaryDirectory()
        for type in ["rsa", "ecdsa"] {
            let path = directory.file("id_\(type)")
            #expect(try sshKeygen(["-q", "-t", type, "-N", "", "-f", path]).status == 0)
            do {
                _ = try VendorIdentity.load(path: path, passphrase: .none)
                Issue.record("a \(type) key loaded")
            } catch {
                #expect(error.code == .unsupportedKeyType)
                #expect(error.message.contains(path))
            }
            #expect(throws: KeyFileError(.unsupportedKeyType, "")) { try VendorPublicKey.load(path: path + ".pub") }
        }
        let pem = directory.file("id_rsa_pem")
        #expect(try sshKeygen(["-q", "-t", "rsa", "-m", "PEM", "-N", "", "-f", pem]).status == 0)
        #expect(throws: KeyFileError(.unsupportedKeyType, "")) { try VendorIdentity.load(path: pem, passphrase: .none) }
    }

    @Test func corruptMissingAndMisusedFilesGiveClearErrors() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("vendor")
        try VendorIdentity.generate().write(to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let corrupt = try directory.write(Array(text.replacingOccurrences(of: "AAAA", with: "AbAA").utf8), to: "corrupt")
        #expect(throws: KeyFileError(.malformed, "")) { try VendorIdentity.load(path: corrupt, passphrase: .none) }
        let truncated = try directory.write(Array(text.utf8.prefix(120)), to: "truncated")
        #expect(throws: KeyFileError(.malformed, "")) { try VendorIdentity.load(path: truncated, passphrase: .none) }
        #expect(throws: KeyFileError(.unreadable, "")) { try VendorIdentity.load(path: directory.file("absent"), passphrase: .none) }
        #expect(throws: KeyFileError(.notAKeyFile, "")) { try VendorIdentity.load(path: path + ".pub", passphrase: .none) }
        #expect(throws: KeyFileError(.notAKeyFile, "")) { try VendorPublicKey.load(path: path) }
        #expect(throws: KeyFileError(.unwritable, "")) { try VendorIdentity.generate().write(to: path) }
    }
}
