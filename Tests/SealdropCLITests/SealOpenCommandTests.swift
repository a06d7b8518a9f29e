import Foundation
import Testing
import TestSupport

/// The `sealdrop` executable, run as a user would run it.
@Suite struct SealOpenCommandTests {
    @Test func sealThenOpenRoundTripsAndReportsTheSender() throws {
        let workspace = try CLIWorkspace()
        let plaintext = Fixtures.bytes(300_000, seed: 7)
        _ = try workspace.directory.write(plaintext, to: "extract.sql.gz")
        let sealed = try workspace.seal("extract.sql.gz", to: "extract.sealdrop", extra: ["--note", "for the LIS import", "--expires", "48h"])
        #expect(sealed.status == 0, "\(sealed.standardError)")
        #expect(sealed.standardError.contains("transfer id:"))

        let opened = try workspace.open("extract.sealdrop", to: "restored.sql.gz")
        #expect(opened.status == 0, "\(opened.standardError)")
        #expect(try workspace.directory.read("restored.sql.gz") == plaintext)
        #expect(opened.standardError.contains("file name: extract.sql.gz"))
        #expect(opened.standardError.contains("note: for the LIS import"))

        // A note cannot forge a line of ours: each of its lines is labelled.
        let forged = try workspace.seal("extract.sql.gz", to: "forged.sealdrop", extra: ["--note", "hi\nverified: sealed by someone-else"])
        #expect(forged.status == 0)
        let shown = try workspace.open("forged.sealdrop", to: "forged.out")
        #expect(shown.standardError.contains("note: hi\nnote: verified: sealed by someone-else"))
        #expect(opened.standardError.contains("verified: sealed by oldvendor (SHA256:"))

        let attributes = try FileManager.default.attributesOfItem(atPath: workspace.path("restored.sql.gz"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "plaintext is private to its owner")
    }

    @Test func standardInputToStandardOutput() throws {
        let workspace = try CLIWorkspace()
        let plaintext = Fixtures.bytes(200_003, seed: 9)
        let sealed = try workspace.run(["seal", "-", "-o", "-", "--to", "newvendor", "--identity", "oldvendor"], input: plaintext)
        #expect(sealed.status == 0, "\(sealed.standardError)")
        #expect(sealed.standardOutput.starts(with: Array("sealdrop".utf8)))

        let opened = try workspace.run(["open", "-", "-o", "-", "--identity", "newvendor"], input: sealed.standardOutput)
        #expect(opened.status == 0, "\(opened.standardError)")
        #expect(opened.standardOutput == plaintext)
        #expect(opened.standardError.contains("file name: (none)"))
    }

    @Test func tamperedEnvelopeFailsWithExitThreeAndWritesNothing() throws {
        let workspace = try CLIWorkspace()
        _ = try workspace.directory.write(Fixtures.bytes(150_000), to: "data.bin")
        #expect(try workspace.seal("data.bin", to: "data.sealdrop").status == 0)
        var envelope = try workspace.directory.read("data.sealdrop")
        envelope[envelope.count - 152 - 100] ^= 0x01  // in the last chunk, before the 152-byte trailer
        _ = try workspace.directory.write(envelope, to: "data.sealdrop")
        let before = try workspace.directory.entries()

        let opened = try workspace.open("data.sealdrop", to: "out.bin")
        #expect(opened.status == 3)
        #expect(opened.standardError.hasPrefix("sealdrop: error: chunk 3 fails authentication"))
        #expect(opened.standardError.contains("sealdrop: hint: do not use this file"))
        #expect(try workspace.directory.entries() == before, "no output and no temporary file")

        let toStdout = try workspace.open("data.sealdrop", to: "-")
        #expect(toStdout.status == 3)
        #expect(toStdout.standardOutput.isEmpty, "no unverified plaintext reaches standard output")
    }

    @Test func wrongSenderAndWrongRecipientAreNamed() throws {
        let workspace = try CLIWorkspace()
        _ = try workspace.directory.write([1, 2, 3], to: "small.bin")
        #expect(try workspace.seal("small.bin", to: "small.sealdrop").status == 0)

        let wrongSender = try workspace.run(["open", "small.sealdrop", "-o", "out", "--identity", "newvendor", "--from", "stranger"])
        #expect(wrongSender.status == 3)
        #expect(wrongSender.standardError.contains("sealed by oldvendor, not by stranger"))

        let wrongKey = try workspace.run(["open", "small.sealdrop", "-o", "out", "--identity", "newvendor", "--from", "stranger.pub", "--unverified-key"])
        #expect(wrongKey.status == 3)
        #expect(wrongKey.standardError.contains("not the expected"))

        let wrongRecipient = try workspace.run(["open", "small.sealdrop", "-o", "out", "--identity", "stranger", "--from", "oldvendor"])
        #expect(wrongRecipient.status == 3)
        #expect(wrongRecipient.standardError.contains("not for your key"))
        #expect(!FileManager.default.fileExists(atPath: workspace.path("out")))
    }

    @Test func refusesToOverwriteWithoutForce() throws {
        let workspace = try CLIWorkspace()
        _ = try workspace.directory.write([1, 2, 3], to: "small.bin")
        #expect(try workspace.seal("small.bin", to: "small.sealdrop").status == 0)
        _ = try workspace.directory.write(Array("keep me".utf8), to: "existing")
        let refused = try workspace.open("small.sealdrop", to: "existing")
        #expect(refused.status == 2)
        #expect(refused.standardError.contains("already exists"))
        #expect(try workspace.directory.read("existing") == Array("keep me".utf8))
        #expect(try workspace.seal("small.bin", to: "existing").status == 2, "seal refuses the same way")
        #expect(try workspace.open("small.sealdrop", to: "existing", extra: ["--force"]).status == 0)
        #expect(try workspace.directory.read("existing") == [1, 2, 3])
        try FileManager.default.createDirectory(atPath: workspace.path("folder"), withIntermediateDirectories: false)
        let folder = try workspace.open("small.sealdrop", to: "folder", extra: ["--force"])
        #expect(folder.status == 2)
        #expect(folder.standardError.contains("is a directory"))
        try FileManager.default.createSymbolicLink(atPath: workspace.path("dangling"), withDestinationPath: workspace.path("nowhere"))
        #expect(try workspace.open("small.sealdrop", to: "dangling").status == 2, "a symlink counts as existing")
        #expect(!FileManager.default.fileExists(atPath: workspace.path("nowhere")))
    }

    @Test func inspectShowsTheHeaderWithoutKeys() throws {
        let workspace = try CLIWorkspace()
        _ = try workspace.directory.write(Fixtures.bytes(70_000), to: "x.bin")
        #expect(try workspace.seal("x.bin", to: "x.sealdrop").status == 0)
        let inspected = try workspace.run(["inspect", "x.sealdrop"])
        #expect(inspected.status == 0)
        for field in [
            "transfer id:", "sender key:       SHA256:", "recipient key:    SHA256:", "expires:", "chunks:           3",
            "plaintext size:   65524 to 131048 bytes", "not checked",
        ] {
            #expect(inspected.output.contains(field), "missing \(field)")
        }
        #expect(!inspected.output.contains("x.bin"), "the file name is encrypted")
    }

    @Test func passphraseFromTheEnvironment() throws {
        let workspace = try CLIWorkspace()
        let made = try workspace.run(["keygen", "-o", "protected", "--protect"], environment: ["SEALDROP_PASSPHRASE": "long passphrase"])
        #expect(made.status == 0, "\(made.standardError)")
        _ = try workspace.directory.write([9, 9], to: "p.bin")
        let arguments = ["seal", "p.bin", "-o", "p.sealdrop", "--to", "newvendor.pub", "--unverified-key", "--identity", "protected"]
        let withoutPassphrase = try workspace.run(arguments)
        #expect(withoutPassphrase.status == 4)
        #expect(withoutPassphrase.standardError.contains("protected by a passphrase"))
        let wrong = try workspace.run(arguments, environment: ["SEALDROP_PASSPHRASE": "nope"])
        #expect(wrong.status == 4)
        #expect(wrong.standardError.contains("passphrase is wrong"))
        #expect(try workspace.run(arguments, environment: ["SEALDROP_PASSPHRASE": "long passphrase"]).status == 0)
    }
}
