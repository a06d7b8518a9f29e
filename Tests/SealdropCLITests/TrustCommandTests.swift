import Foundation
import Testing
import TestSupport

/// The CA commands, checked with the real `openssl`, and sealing by name.
@Suite struct TrustCommandTests {
    static let openssl = Subprocess.which("openssl")

    func openssl(_ arguments: [String], in workspace: CLIWorkspace) throws -> ProcessResult {
        let tool = try #require(Self.openssl, "openssl is required (apt-get install openssl)")
        return try Subprocess.run(tool, arguments, directory: workspace.directory.path)
    }

    @Test func opensslReadsAndVerifiesWhatTheCAIssues() throws {
        let workspace = try CLIWorkspace()
        let text = try openssl(["x509", "-in", "ca/trust/vendors/newvendor.pem", "-text", "-noout"], in: workspace)
        #expect(text.status == 0)
        #expect(text.output.contains("CN = newvendor"))
        #expect(text.output.contains("OU = vendor"))
        #expect(text.output.contains("2.25.240662118954536702349122201223858297073.1.1"), "the vendor role OID")
        #expect(text.output.contains("CA:FALSE"))
        let ca = try openssl(["x509", "-in", "ca/trust/ca.pem", "-text", "-noout"], in: workspace)
        #expect(ca.output.contains("CA:TRUE, pathlen:0"))
        #expect(ca.output.contains("Certificate Sign, CRL Sign"))

        let verified = try openssl(["verify", "-CAfile", "ca/trust/ca.pem", "ca/trust/vendors/newvendor.pem"], in: workspace)
        #expect(verified.status == 0, "\(verified.standardError)")
        #expect(verified.output.contains("OK"))

        #expect(try workspace.run(["ca", "revoke", "--ca-dir", "ca", "stranger", "--reason", "keyCompromise"]).status == 0)
        let crl = try openssl(["crl", "-in", "ca/trust/revocations.crl", "-text", "-noout"], in: workspace)
        #expect(crl.status == 0)
        #expect(crl.output.contains("Key Compromise"))
        #expect(crl.output.contains("X509v3 CRL Number: \n                3"))
        let checked = try openssl(
            [
                "verify", "-crl_check", "-CAfile", "ca/trust/ca.pem", "-CRLfile", "ca/trust/revocations.crl",
                "ca/trust/vendors/stranger.pem",
            ], in: workspace)
        #expect(checked.status != 0, "openssl also sees the revocation")
        #expect(checked.output.contains("revoked") || checked.standardError.contains("revoked"))
        let stillGood = try openssl(
            [
                "verify", "-crl_check", "-CAfile", "ca/trust/ca.pem", "-CRLfile", "ca/trust/revocations.crl",
                "ca/trust/vendors/newvendor.pem",
            ], in: workspace)
        #expect(stillGood.status == 0, "\(stillGood.standardError)")
    }

    @Test func keyFilesHaveTheRightModesAndStayOutOfTheTrustStore() throws {
        let workspace = try CLIWorkspace()
        let mode = try FileManager.default.attributesOfItem(atPath: workspace.path("ca/ca.key"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let published = try FileManager.default.subpathsOfDirectory(atPath: workspace.path("ca/trust"))
        #expect(!published.contains { $0.hasSuffix(".key") || $0.contains("key") }, "\(published)")
        #expect(Set(published).isSuperset(of: ["ca.pem", "revocations.crl", "vendors/oldvendor.pem", "vendors/newvendor.pem"]))
    }

    @Test func sealingToARevokedVendorWritesNothing() throws {
        let workspace = try CLIWorkspace()
        _ = try workspace.directory.write([1, 2, 3], to: "x.bin")
        #expect(try workspace.seal("x.bin", to: "before.sealdrop").status == 0)
        #expect(try workspace.run(["ca", "revoke", "--ca-dir", "ca", "newvendor"]).status == 0)
        let refused = try workspace.seal("x.bin", to: "after.sealdrop")
        #expect(refused.status == 5)
        #expect(refused.standardError.contains("revoked"))
        #expect(!FileManager.default.fileExists(atPath: workspace.path("after.sealdrop")))
        #expect(try workspace.directory.entries().filter { $0.contains("after") }.isEmpty)

        // A file sealed before its sender was revoked is refused at open.
        #expect(try workspace.run(["ca", "revoke", "--ca-dir", "ca", "oldvendor"]).status == 0)
        let opened = try workspace.open("before.sealdrop", to: "out.bin")
        #expect(opened.status == 5)
        #expect(opened.standardError.contains("\"oldvendor\" was revoked"))
        #expect(!FileManager.default.fileExists(atPath: workspace.path("out.bin")))
    }

    @Test func unknownNamesAndBareKeysNeedTheirOwnForms() throws {
        let workspace = try CLIWorkspace()
        _ = try workspace.directory.write([1], to: "x.bin")
        #expect(try workspace.seal("x.bin", to: "o1").status == 0)
        let nobody = try workspace.run(["seal", "x.bin", "-o", "o2", "--to", "nobody", "--identity", "oldvendor"])
        #expect(nobody.status == 5)
        #expect(nobody.standardError.contains("no certificate for \"nobody\""))
        let badName = try workspace.run(["seal", "x.bin", "-o", "o3", "--to", "Big_Name", "--identity", "oldvendor"])
        #expect(badName.status == 2)
        #expect(badName.standardError.contains("not a vendor name"))
        let bare = try workspace.run(["seal", "x.bin", "-o", "o4", "--to", "newvendor.pub", "--unverified-key", "--identity", "oldvendor"])
        #expect(bare.status == 0)
        #expect(bare.standardError.contains("sealdrop: warning: --unverified-key"))
        // Sealed without certificates, it can only be opened by key too.
        let byName = try workspace.open("o4", to: "r4")
        #expect(byName.status == 5)
        #expect(byName.standardError.contains("no sender certificate"))
        #expect(try workspace.run(["open", "o4", "-o", "r4", "--identity", "newvendor", "--from", "oldvendor.pub", "--unverified-key"]).status == 0)
    }

    @Test func theExampleSetHasARevokedVendorAndAServer() throws {
        let workspace = try CLIWorkspace()
        _ = try workspace.directory.write([1], to: "x.bin")
        let revoked = try workspace.run(["seal", "x.bin", "-o", "x.sealdrop", "--to", "formervendor", "--identity", "oldvendor"])
        #expect(revoked.status == 5)
        #expect(revoked.standardError.contains("revoked"))
        let server = try workspace.run(["cert", "show", "ca/trust/server/dropbox.pem", "--trust", "ca/trust"])
        #expect(server.status == 0, "\(server.standardError)")
        #expect(server.output.contains("verdict:      trusted server \"dropbox\""))
    }

    @Test func certShowSpeaksPlainly() throws {
        let workspace = try CLIWorkspace()
        let shown = try workspace.run(["cert", "show", "ca/trust/vendors/newvendor.pem", "--trust", "ca/trust"])
        #expect(shown.status == 0, "\(shown.standardError)")
        for field in [
            "subject:      newvendor", "kind:         vendor", "key:          Ed25519, SHA256:", "valid until:", "issuer:       CN=Lab migration CA",
            "verdict:      trusted vendor \"newvendor\"",
        ] {
            #expect(shown.output.contains(field), "missing \(field)")
        }
        let ca = try workspace.run(["cert", "show", "ca/trust/ca.pem"])
        #expect(ca.output.contains("kind:         certificate authority"))
    }
}
