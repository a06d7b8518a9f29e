import Foundation
import Testing
import TestSupport

/// Help, usage errors and exit codes.
@Suite struct UsageTests {
    @Test func helpListsEveryCommandAndTheExitCodes() throws {
        let workspace = try CLIWorkspace()
        let help = try workspace.run(["--help"])
        #expect(help.status == 0)
        for command in ["keygen", "seal", "open", "inspect", "ca", "cert"] {
            #expect(help.output.contains(command))
        }
        #expect(help.output.contains("3  an envelope failed verification; nothing was written"))
        for command in ["keygen", "seal", "open", "inspect"] {
            let sub = try workspace.run([command, "--help"])
            #expect(sub.status == 0)
            #expect(sub.output.contains("USAGE: sealdrop \(command)"))
        }
    }

    @Test func usageErrorsUseTheHouseFormat() throws {
        let workspace = try CLIWorkspace()
        let missing = try workspace.run(["seal", "x"])
        #expect(missing.status == 2)
        #expect(missing.standardError.hasPrefix("sealdrop: error: "))
        #expect(missing.standardError.contains("sealdrop: hint: "))

        let badExpiry = try workspace.run(["seal", "x", "-o", "y", "--to", "newvendor", "--identity", "oldvendor", "--expires", "30d"])
        #expect(badExpiry.status == 2)
        #expect(badExpiry.standardError.contains("--expires"))

        let badName = try workspace.run(["seal", "x", "-o", "y", "--to", "newvendor", "--identity", "oldvendor", "--name", "../up"])
        #expect(badName.status == 2)
        #expect(badName.standardError.contains("single path component"))
    }

    @Test func missingFilesAndWrongKeyTypes() throws {
        let workspace = try CLIWorkspace()
        let missingInput = try workspace.seal("absent.sql", to: "out.sealdrop")
        #expect(missingInput.status == 1)
        #expect(missingInput.standardError.contains("absent.sql"))
        #expect(!FileManager.default.fileExists(atPath: workspace.path("out.sealdrop")))

        _ = try workspace.directory.write([1], to: "one.bin")
        let publicAsIdentity = try workspace.run(["seal", "one.bin", "-o", "o", "--to", "newvendor", "--identity", "oldvendor.pub"])
        #expect(publicAsIdentity.status == 4)
        #expect(publicAsIdentity.standardError.contains("oldvendor.pub"))

        let notAnEnvelope = try workspace.run(["inspect", "one.bin"])
        #expect(notAnEnvelope.status == 3)
        #expect(notAnEnvelope.standardError.contains("not a sealdrop envelope"))
    }
}
