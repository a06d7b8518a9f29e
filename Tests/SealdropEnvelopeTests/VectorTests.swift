import Foundation
import Testing
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import TestSupport

/// Runs every committed vector of `Tests/Vectors/envelope-v1` and
/// `envelope-v2` through the reader, whole and in uneven pieces, and (v2)
/// through the keyless verifier, and checks each expected outcome.
@Suite struct VectorTests {
    struct Manifest: Decodable {
        struct Key: Decodable {
            let seed: String
            let fingerprint: String
        }

        struct Entry: Decodable, Sendable {
            let file: String
            let comment: String
            let sender: String
            let recipient: String
            let expect: String
            let expect_verifier: String?
            let file_name: String?
            let note: String?
            let plaintext_size: Int?
            let plaintext_sha256: String?
        }

        let format: String
        let keys: [String: Key]
        let vectors: [Entry]
    }

    /// One vector of one set.
    struct Case: CustomTestStringConvertible, Sendable {
        let set: String
        let entry: Manifest.Entry
        var testDescription: String { self.set + "/" + entry.file }
        var path: String { VectorTests.directory(self.set) + "/" + entry.file }
    }

    static let sets = ["envelope-v1", "envelope-v2"]

    static func directory(_ set: String) -> String { Fixtures.root + "/Tests/Vectors/" + set }

    static let manifests: [String: Manifest] = Dictionary(
        uniqueKeysWithValues: sets.map { set in
            let data = try! Data(contentsOf: URL(fileURLWithPath: directory(set) + "/manifest.json"))
            return (set, try! JSONDecoder().decode(Manifest.self, from: data))
        })

    static let cases: [Case] = sets.flatMap { set in manifests[set]!.vectors.map { Case(set: set, entry: $0) } }

    static func identity(_ name: String, set: String) throws -> VendorIdentity {
        try VendorIdentity.load(path: directory(set) + "/keys/" + name, passphrase: .none)
    }

    @Test func manifestsCoverEveryCheck() {
        let expected = Set(Self.cases.flatMap { [$0.entry.expect] + ($0.entry.expect_verifier.map { [$0] } ?? []) })
        for code in EnvelopeError.Code.allCases {
            #expect(expected.contains(code.rawValue), "no vector expects \(code.rawValue)")
        }
        #expect(expected.contains("ok"))
        #expect(Self.manifests["envelope-v1"]?.format == "sealdrop envelope v1")
        #expect(Self.manifests["envelope-v2"]?.format == "sealdrop envelope v2")
        #expect(Self.manifests["envelope-v2"]!.vectors.allSatisfy { $0.expect_verifier != nil }, "every v2 vector says what the verifier makes of it")
    }

    @Test(arguments: sets)
    func keysMatchTheManifest(_ set: String) throws {
        for (name, key) in Self.manifests[set]!.keys {
            let identity = try Self.identity(name, set: set)
            #expect(identity.fingerprint.description == key.fingerprint)
            #expect(identity.signingKey.seed.withUnsafeBytes { Hex.encode($0) } == key.seed)
        }
    }

    @Test(arguments: cases)
    func reader(_ vector: Case) throws {
        let entry = vector.entry
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: vector.path)))
        let recipient = try Self.identity(entry.recipient, set: vector.set)
        let sender = try Self.identity(entry.sender, set: vector.set).publicKey
        for trickle in [false, true] {
            var sink = MemorySink()
            do {
                let result: OpenResult
                if trickle {
                    var source = TricklingSource(bytes)
                    result = try EnvelopeOpener.open(from: &source, to: &sink, recipient: recipient, expectedSender: sender)
                } else {
                    var source = MemorySource(bytes)
                    result = try EnvelopeOpener.open(from: &source, to: &sink, recipient: recipient, expectedSender: sender)
                }
                #expect(entry.expect == "ok", "\(entry.file) opened; expected \(entry.expect)")
                #expect(result.description.fileName == entry.file_name)
                #expect(result.description.note == entry.note)
                #expect(Int(result.plaintextSize) == entry.plaintext_size)
                #expect(Hex.encode(Digest.sha256(sink.bytes)) == entry.plaintext_sha256)
                #expect(sink.bytes.count == entry.plaintext_size)
                #expect(result.envelopeSHA256 == Digest.sha256(bytes), "the reader hashes the whole envelope")
                #expect((result.trailer != nil) == (result.version == EnvelopeFormat.version), "a v2 envelope opens with its trailer")
            } catch let error as EnvelopeError {
                #expect(error.code.rawValue == entry.expect, "\(entry.file): \(error.message)")
            }
        }
    }

    @Test(arguments: cases.filter { $0.entry.expect_verifier != nil })
    func verifier(_ vector: Case) throws {
        let entry = vector.entry
        let expected = try #require(entry.expect_verifier)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: vector.path)))
        let sender = try Self.identity(entry.sender, set: vector.set).publicKey
        for trickle in [false, true] {
            do {
                let verified: VerifiedEnvelope
                if trickle {
                    var source = TricklingSource(bytes)
                    verified = try EnvelopeVerification.verify(from: &source, length: UInt64(bytes.count)) { _ in sender }
                } else {
                    var source = MemorySource(bytes)
                    verified = try EnvelopeVerification.verify(from: &source, length: UInt64(bytes.count)) { _ in sender }
                }
                #expect(expected == "ok", "\(entry.file) verified; expected \(expected)")
                #expect(verified.sha256 == Digest.sha256(bytes))
                #expect(verified.length == UInt64(bytes.count))
                #expect(verified.trailer.encoded == Array(bytes.suffix(EnvelopeFormat.trailerLength)))
                #expect(verified.trailer.contentHash == Digest.sha256(bytes.dropLast(EnvelopeFormat.trailerLength)))
            } catch let error as EnvelopeError {
                #expect(error.code.rawValue == expected, "\(entry.file): \(error.message)")
            }
        }
    }

    @Test(arguments: sets)
    func generatorStillProducesTheCommittedVectors(_ set: String) throws {
        let generator = Fixtures.productsDirectory + "/envelope-vectors"
        try #require(FileManager.default.isExecutableFile(atPath: generator), "build the envelope-vectors product")
        let directory = try TemporaryDirectory()
        let run = try Subprocess.run(generator, [String(set.dropFirst("envelope-".count)), directory.path])
        #expect(run.status == 0, "\(run.standardError)")
        for entry in Self.manifests[set]!.vectors {
            let fresh = try directory.read(entry.file)
            let committed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.directory(set) + "/" + entry.file)))
            #expect(fresh == committed, "\(set)/\(entry.file) differs from a fresh generation: run ops/gen-vectors and review")
        }
        let manifest = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.directory(set) + "/manifest.json")))
        #expect(try directory.read("manifest.json") == manifest)
    }
}
