import Testing
@testable import SealdropFormat

@Suite struct OpenSSHKeyCodecTests {
    /// Made once with `ssh-keygen -t ed25519 -N '' -C vector`; the values
    /// below were printed by `ssh-keygen -y` and `ssh-keygen -lf`.
    static let sshKeygenPrivateKey = """
        -----BEGIN OPENSSH PRIVATE KEY-----
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
        QyNTUxOQAAACDoBC9+Mfufae2zL6BZzvCDdfKt4sReWGIfFdKJK2BPXwAAAJCunEsBrpxL
        AQAAAAtzc2gtZWQyNTUxOQAAACDoBC9+Mfufae2zL6BZzvCDdfKt4sReWGIfFdKJK2BPXw
        AAAEBdPKTwRay3HgKQ5E01mGVXxh6m6Xnl4us0tMDsmXrPmOgEL34x+59p7bMvoFnO8IN1
        8q3ixF5YYh8V0okrYE9fAAAABnZlY3RvcgECAwQFBgc=
        -----END OPENSSH PRIVATE KEY-----
        """
    static let sshKeygenPublicLine = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOgEL34x+59p7bMvoFnO8IN18q3ixF5YYh8V0okrYE9f vector"

    @Test func readsAnSSHKeygenKeyAndReEncodesItByteForByte() throws {
        let file = try OpenSSHPrivateKeyFile(text: Self.sshKeygenPrivateKey)
        #expect(!file.isEncrypted)
        let part = try file.decodePrivatePart()
        #expect(part.comment == "vector")
        #expect(part.publicKey.authorizedKeyLine == Self.sshKeygenPublicLine)
        let again = OpenSSHPrivateKeyFile.encode(seed: part.seed, publicKey: part.publicKey, checkNumber: 0xae9c_4b01)
        #expect(again == Self.sshKeygenPrivateKey + "\n")
    }

    @Test func parsesPublicKeyLines() throws {
        let key = try SSHEd25519PublicKey(authorizedKeyText: "# comment\n\n" + Self.sshKeygenPublicLine + "\n")
        #expect(key.comment == "vector")
        #expect(key.blob.count == 51)
        #expect(try SSHEd25519PublicKey(blob: key.blob).rawKey == key.rawKey)
    }

    @Test func namesForeignKeyTypes() {
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host"
        #expect(throws: KeyFileError(.unsupportedKeyType, "")) { try SSHEd25519PublicKey(authorizedKeyText: rsa) }
        #expect(throws: KeyFileError(.unsupportedKeyType, "")) {
            try OpenSSHPrivateKeyFile(text: "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n")
        }
        #expect(throws: KeyFileError(.notAKeyFile, "")) { try OpenSSHPrivateKeyFile(text: Self.sshKeygenPublicLine) }
        #expect(throws: KeyFileError(.notAKeyFile, "")) { try OpenSSHPrivateKeyFile(text: "hello") }
    }

    @Test func refusesTruncatedAndCorruptKeys() {
        let lines = Self.sshKeygenPrivateKey.split(separator: "\n")
        let truncated = lines.dropLast().joined(separator: "\n")
        #expect(throws: KeyFileError(.malformed, "")) { try OpenSSHPrivateKeyFile(text: truncated) }
        let missingLine = ([lines[0]] + lines[2...]).joined(separator: "\n")
        #expect(throws: KeyFileError(.malformed, "")) { try OpenSSHPrivateKeyFile(text: missingLine).decodePrivatePart() }
    }

    @Test func randomCorruptionNeverTraps() {
        let original = Array(Self.sshKeygenPrivateKey.utf8)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var bytes = original
            let index = Int.random(in: 36..<(bytes.count - 34), using: &generator)
            bytes[index] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8).randomElement(using: &generator)!
            _ = try? OpenSSHPrivateKeyFile(text: String(decoding: bytes, as: UTF8.self)).decodePrivatePart()
        }
    }
}
