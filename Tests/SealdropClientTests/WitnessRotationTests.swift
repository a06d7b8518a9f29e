import Foundation
import SealdropClient
import SealdropFormat
import SealdropKeys
import SealdropLog
import Testing
import TestSupport

/// A rotation of the drop box's receipt key, as a witness sees it: a head
/// under a new key the CA certified is accepted when it extends the head
/// saved under the old certified key (and the change is said); a head under
/// an uncertified key, an inconsistent one, or a saved head whose key the
/// drop box does not show certified, is still refused.
@Suite struct WitnessRotationTests {
    /// A second receipt key, certified by the fixture's CA with the server role, or not at all.
    static func newKey(_ fixture: HostileFixture, name: String, certified: Bool) throws -> (key: String, certificate: String) {
        let made = try Subprocess.run(Fixtures.sealdrop, ["keygen", "-o", name, "--comment", name], directory: fixture.directory.path)
        try #require(made.status == 0, "\(made.standardError)")
        guard certified else { return (name, String(decoding: fixture.read("ca/trust/server/dropbox.pem"), as: UTF8.self)) }
        let issued = try Subprocess.run(
            Fixtures.sealdrop, ["ca", "issue", "--ca-dir", "ca", "--name", name, "--pubkey", name + ".pub", "--role", "server"],
            directory: fixture.directory.path)
        try #require(issued.status == 0, "\(issued.standardError)")
        return (name, String(decoding: fixture.read("ca/trust/server/\(name).pem"), as: UTF8.self))
    }

    /// A published head over `log` signed by `keyFile`, shown with `certificate`.
    static func published(
        _ fixture: HostileFixture, _ log: [[UInt8]], from: Int?, keyFile: String, certificate: String, previous: [String]
    ) throws -> [UInt8] {
        let key = try VendorIdentity.load(path: fixture.directory.file(keyFile), passphrase: .none).signingKey
        let head = PublishedHead.make(
            leafHashes: log.map(MerkleTree.leafHash), from: from, at: Date(), key: key, certificate: certificate, previousCertificates: previous)
        return [UInt8](try JSONEncoder().encode(head))
    }

    /// The fixture after a vendor saw a head of 4 entries under the original key.
    static func seenUnderTheOldKey() throws -> (HostileFixture, String, String) {
        let fixture = try HostileFixture()
        let file = fixture.directory.file("witness.json")
        let old = String(decoding: fixture.read("ca/trust/server/dropbox.pem"), as: UTF8.self)
        fixture.server.files["/receipts/head"] = try published(
            fixture, HostileWitnessTests.log(4), from: nil, keyFile: "dropbox", certificate: old, previous: [])
        #expect(try HostileWitnessTests().witness(fixture, file)?.keyChanged == false)
        return (fixture, file, old)
    }

    @Test func aHeadUnderANewCertifiedKeyThatExtendsTheSavedOneIsAcceptedAndTheChangeSaid() throws {
        let (fixture, file, old) = try Self.seenUnderTheOldKey()
        let (key, certificate) = try Self.newKey(fixture, name: "receipts-2", certified: true)
        fixture.server.files["/receipts/consistency-4.json"] = try Self.published(
            fixture, HostileWitnessTests.log(9), from: 4, keyFile: key, certificate: certificate, previous: [old])
        let witnessed = try #require(try HostileWitnessTests().witness(fixture, file))
        #expect(witnessed.keyChanged && witnessed.head.size == 9 && witnessed.previousSize == 4)
        let saved = try JSONDecoder().decode(SignedTreeHead.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(saved.size == 9, "the head under the new key is kept")
        // From now on the new key is the one: the next head is an ordinary extension.
        fixture.server.files["/receipts/consistency-9.json"] = try Self.published(
            fixture, HostileWitnessTests.log(12), from: 9, keyFile: key, certificate: certificate, previous: [old])
        #expect(try HostileWitnessTests().witness(fixture, file)?.keyChanged == false)
    }

    @Test func aHeadUnderANewCertifiedKeyThatDoesNotExtendTheSavedOneIsAFork() throws {
        let (fixture, file, old) = try Self.seenUnderTheOldKey()
        let before = fixture.read("witness.json")
        let (key, certificate) = try Self.newKey(fixture, name: "receipts-2", certified: true)
        fixture.server.files["/receipts/consistency-4.json"] = try Self.published(
            fixture, HostileWitnessTests.log(9, fork: 2), from: 4, keyFile: key, certificate: certificate, previous: [old])
        #expect(throws: DropBoxError(.forkedLog, "")) { try HostileWitnessTests().witness(fixture, file) }
        #expect(fixture.read("witness.json") == before, "the saved head is kept as evidence")
    }

    @Test func aHeadUnderAnUncertifiedKeyIsRefused() throws {
        let (fixture, file, old) = try Self.seenUnderTheOldKey()
        let before = fixture.read("witness.json")
        // Signed by a key of the server's choosing, shown with the old certificate.
        let (key, certificate) = try Self.newKey(fixture, name: "rogue", certified: false)
        fixture.server.files["/receipts/consistency-4.json"] = try Self.published(
            fixture, HostileWitnessTests.log(9), from: 4, keyFile: key, certificate: certificate, previous: [old])
        #expect(throws: DropBoxError(.badReceipt, "")) { try HostileWitnessTests().witness(fixture, file) }
        #expect(fixture.read("witness.json") == before)
    }

    @Test func aSavedHeadWhoseKeyTheDropBoxDoesNotShowCertifiedIsAFork() throws {
        let (fixture, file, _) = try Self.seenUnderTheOldKey()
        let (key, certificate) = try Self.newKey(fixture, name: "receipts-2", certified: true)
        // A consistent log under the new key, but without the old certificate,
        // or with one of another CA: the saved head cannot be tied to the CA.
        let foreign = try HostileFixture()
        for previous in [[String](), [String(decoding: foreign.read("ca/trust/server/dropbox.pem"), as: UTF8.self)]] {
            fixture.server.files["/receipts/consistency-4.json"] = try Self.published(
                fixture, HostileWitnessTests.log(9), from: 4, keyFile: key, certificate: certificate, previous: previous)
            do {
                _ = try HostileWitnessTests().witness(fixture, file)
                Issue.record("a saved head of an uncertified key was taken as the previous one")
            } catch let error as DropBoxError {
                #expect(error.code == .forkedLog)
                #expect(error.message.contains("signed neither by the drop box's current receipt key"), "\(error.message)")
            }
        }
    }

    /// R5: after a head under the newer certified key, the drop box goes back
    /// to the retired key (its certificate still valid and still listed).
    @Test func aHeadUnderTheRetiredKeyAfterTheNewOneIsRefused() throws {
        let (fixture, file, old) = try Self.seenUnderTheOldKey()
        // Certificates carry whole seconds: the new one must be issued visibly later.
        Thread.sleep(forTimeInterval: 1.2)
        let (key, certificate) = try Self.newKey(fixture, name: "receipts-2", certified: true)
        fixture.server.files["/receipts/consistency-4.json"] = try Self.published(
            fixture, HostileWitnessTests.log(9), from: 4, keyFile: key, certificate: certificate, previous: [old])
        #expect(try HostileWitnessTests().witness(fixture, file)?.keyChanged == true)
        let before = fixture.read("witness.json")
        // The same log, grown, signed again with the old key, the new key's certificate listed as "previous".
        fixture.server.files["/receipts/consistency-9.json"] = try Self.published(
            fixture, HostileWitnessTests.log(12), from: 9, keyFile: "dropbox", certificate: old, previous: [certificate])
        do {
            _ = try HostileWitnessTests().witness(fixture, file)
            Issue.record("a head under the retired key was accepted")
        } catch let error as DropBoxError {
            #expect(error.code == .forkedLog)
            #expect(error.message.contains("retired receipt key"), "\(error.message)")
        }
        #expect(fixture.read("witness.json") == before, "the head under the new key is kept")
    }
}
