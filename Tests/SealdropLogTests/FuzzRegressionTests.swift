import Foundation
import SealdropCrypto
import SealdropFormat
@_spi(TestVectors) import SealdropLog
import Testing
import TestSupport

/// Inputs that made the `FuzzLog` target trap, kept in its corpus
/// (`Tests/Fuzz/Corpus/FuzzLog/crash-*`, first byte the parser selector) and
/// checked here for the answer each must now get.
@Suite struct FuzzRegressionTests {
    static func input(_ name: String) throws -> [UInt8] {
        let path = Fixtures.root + "/Tests/Fuzz/Corpus/FuzzLog/" + name
        let data = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
        return Array([UInt8](data).dropFirst())
    }

    /// A head with a negative size (valid JSON) trapped converting the size
    /// for its signing message: in `audit verify --head` and in every
    /// client that read such a head from a drop box.
    @Test func aHeadWithANegativeSizeIsUnsignedNotATrap() throws {
        let head = try JSONDecoder().decode(SignedTreeHead.self, from: Data(try Self.input("crash-head-negative-size")))
        #expect(head.size < 0)
        #expect(!head.isSigned(by: LogVectors.key().publicKey))
        let verifier = AuditVerifier(serverKey: LogVectors.key().publicKey, vendorKeys: [:], grace: 120)
        #expect(verifier.verify(entries: [[UInt8]](), head: head).map(\.code) == [.headSignature, .headSize])
    }

    @Test func aPublishedHeadWithANegativeSizeIsRefusedByTheWitness() throws {
        let published = try JSONDecoder().decode(PublishedHead.self, from: Data(try Self.input("crash-published-negative-size")))
        let saved = SignedTreeHead.sign(entries: [[1]], at: Date(), with: LogVectors.key())
        do {
            _ = try HeadWitness.check(saved: saved, published: published, serverKey: LogVectors.key().publicKey)
            Issue.record("a head with a negative size was accepted")
        } catch {
            #expect(error.code == .badSignature)
        }
    }

    /// Expiry and deletion times at Int64's ends overflowed the audit's
    /// deadline arithmetic; they now saturate and are reported.
    @Test func expiriesAtTheEndsOfTheRangeAreAuditedNotATrap() throws {
        let entries = try Self.input("crash-audit-expiry-overflow").split(separator: 0x0A).map { Array($0) }
        let key = LogVectors.key()
        let head = SignedTreeHead.sign(entries: entries, at: Date(timeIntervalSince1970: 1_767_225_600), with: key)
        let verifier = AuditVerifier(serverKey: key.publicKey, vendorKeys: [:], grace: 120)
        let problems = verifier.verify(entries: entries, head: head)
        // The first never ends but its expiry is beyond any time; the second
        // ended, and was deleted at the last representable millisecond.
        #expect(problems.map(\.code) == [.fileDeletedLate])
        #expect(problems.first?.entry == 2)
        for grace in [TimeInterval.infinity, -.infinity, .nan, 1e300] {
            let verifier = AuditVerifier(serverKey: key.publicKey, vendorKeys: [:], grace: grace)
            #expect(verifier.verify(entries: entries, head: head).map(\.code) == [.fileDeletedLate])
        }
    }
}
