import Foundation
import SealdropCrypto
import SealdropFormat
@_spi(TestVectors) import SealdropLog
import TestSupport
import Testing

/// The committed vectors of `Tests/Vectors/log-v1`: the generator still
/// writes them byte for byte, and the code agrees with every expectation.
@Suite struct LogVectorTests {
    static let directory = Fixtures.root + "/Tests/Vectors/log-v1"

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
    }

    @Test func generatorStillProducesTheCommittedVectors() throws {
        let files = LogVectors.files()
        let committed = try FileManager.default.contentsOfDirectory(atPath: Self.directory).sorted()
        #expect(committed == files.map(\.name).sorted())
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.directory + "/" + file.name)))
            #expect(bytes == file.bytes, "\(file.name) differs from what ops/gen-vectors writes")
        }
    }

    @Test func entriesDecodeOrFailWithTheirCode() throws {
        let cases = try Self.load("entries.json", as: [LogVectors.EntryCase].self)
        #expect(cases.count > 30)
        // Every kind has a valid entry in the set.
        let kinds = Set(cases.filter { $0.expect == "ok" }.compactMap { Base64.decode($0.entry).flatMap { try? LogEntry(decoding: $0) }?.kind })
        #expect(kinds == Set(LogEntry.Kind.allCases))
        for item in cases {
            let bytes = try #require(Base64.decode(item.entry))
            #expect(Hex.encode(MerkleTree.leafHash(bytes)) == item.leafHash, "\(item.name)")
            do {
                let entry = try LogEntry(decoding: bytes)
                #expect(item.expect == "ok", "\(item.name) decoded but should fail with \(item.expect)")
                #expect(entry.encoded() == bytes, "\(item.name) does not re-encode to its bytes")
            } catch {
                #expect(error.code.rawValue == item.expect, "\(item.name): \(error.message)")
            }
        }
    }

    @Test func treeRootsAndProofs() throws {
        let tree = try Self.load("tree.json", as: LogVectors.Tree.self)
        let leaves = try tree.entries.map { try #require(Base64.decode($0)) }.map(MerkleTree.leafHash)
        for size in 0...leaves.count {
            #expect(Hex.encode(MerkleTree.root(leaves[..<size])) == tree.roots[size])
            var frontier = MerkleFrontier()
            for leaf in leaves[..<size] { frontier.append(leafHash: leaf) }
            #expect(Hex.encode(frontier.root) == tree.roots[size])
        }
        for item in tree.inclusion {
            let proof = try item.proof.map { try #require(Hex.decode($0)) }
            let valid = MerkleTree.verifyInclusion(
                leaf: try #require(Hex.decode(item.leafHash)), index: item.index, size: item.size, proof: proof, root: try #require(Hex.decode(item.root)))
            #expect(valid == item.valid, "\(item.name)")
        }
        for item in tree.consistency {
            let proof = try item.proof.map { try #require(Hex.decode($0)) }
            let valid = MerkleTree.verifyConsistency(
                oldSize: item.oldSize, oldRoot: try #require(Hex.decode(item.oldRoot)), newSize: item.newSize,
                newRoot: try #require(Hex.decode(item.newRoot)), proof: proof)
            #expect(valid == item.valid, "\(item.name)")
        }
        #expect(tree.inclusion.contains { !$0.valid } && tree.consistency.contains { !$0.valid })
    }

    @Test func signedHeads() throws {
        let heads = try Self.load("heads.json", as: LogVectors.Heads.self)
        let key = try Ed25519PublicKey(bytes: try #require(Hex.decode(heads.publicKey)))
        for item in heads.cases {
            #expect(item.head.isSigned(by: key) == item.valid, "\(item.name)")
        }
    }

    @Test func wholeLogsReportTheirProblems() throws {
        let audit = try Self.load("audit.json", as: LogVectors.Audit.self)
        let key = try Ed25519PublicKey(bytes: try #require(Hex.decode(audit.publicKey)))
        let verifier = AuditVerifier(serverKey: key, vendorKeys: [:], grace: audit.grace)
        #expect(audit.cases.contains { $0.expect.isEmpty })
        for item in audit.cases {
            let entries = try item.entries.map { try #require(Base64.decode($0)) }
            let earlier = item.earlier.enumerated().map { AuditVerifier.EarlierHead(name: "head \($0.offset)", head: $0.element) }
            let problems = verifier.verify(entries: entries, head: item.head, earlier: earlier)
            #expect(problems.map(\.code.rawValue) == item.expect, "\(item.name): \(problems)")
        }
    }
}
