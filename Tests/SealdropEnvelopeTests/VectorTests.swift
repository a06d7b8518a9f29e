import Foundation
import Testing
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import TestSupport

/// Runs every committed vector of `Tests/Vectors/envelope-v1` through the
/// reader, whole and in uneven pieces, and checks its expected outcome.
@Suite struct VectorTests {
    struct Manifest: Decodable {
        struct Key: Decodable {
            let seed: String
            let fingerprint: String
        }

        struct Entry: Decodable, CustomTestStringConvertible, Sendable {
            let file: String
            let comment: String
            let sender: String
            let recipient: String
            let expect: String
            let file_name: String?
            let note: String?
            let plaintext_size: Int?
            let plaintext_sha256: String?

            var testDescription: String { file }
        }

        let keys: [String: Key]
        let vectors: [Entry]
    }

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.envelopeVectors + "/manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    static func identity(_ name: String) throws -> VendorIdentity {
        try VendorIdentity.load(path: Fixtures.envelopeVectors + "/keys/" + name, passphrase: .none)
    }

    @Test func manifestCoversEveryReaderCheck() {
        let expected = Set(Self.manifest.vectors.map(\.expect))
        for code in EnvelopeError.Code.allCases {
            #expect(expected.contains(code.rawValue), "no vector expects \(code.rawValue)")
        }
        #expect(expected.contains("ok"))
    }

    @Test func keysMatchTheManifest() throws {
        for (name, key) in Self.manifest.keys {
            let identity = try Self.identity(name)
            #expect(identity.fingerprint.description == key.fingerprint)
            #expect(identity.signingKey.seed.withUnsafeBytes { Hex.encode($0) } == key.seed)
        }
    }

    @Test(arguments: manifest.vectors)
    func vector(_ entry: Manifest.Entry) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.envelopeVectors + "/" + entry.file)))
        let recipient = try Self.identity(entry.recipient)
        let sender = try Self.identity(entry.sender).publicKey
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
            } catch let error as EnvelopeError {
                #expect(error.code.rawValue == entry.expect, "\(entry.file): \(error.message)")
            }
        }
    }

    @Test func generatorStillProducesTheCommittedVectors() throws {
        let generator = Fixtures.productsDirectory + "/envelope-vectors"
        try #require(FileManager.default.isExecutableFile(atPath: generator), "build the envelope-vectors product")
        let directory = try TemporaryDirectory()
        let run = try Subprocess.run(generator, [directory.path])
        #expect(run.status == 0, "\(run.standardError)")
        for entry in Self.manifest.vectors {
            let fresh = try directory.read(entry.file)
            let committed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.envelopeVectors + "/" + entry.file)))
            #expect(fresh == committed, "\(entry.file) differs from a fresh generation: run ops/gen-vectors and review")
        }
        #expect(try directory.read("manifest.json") == [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.envelopeVectors + "/manifest.json"))))
    }
}
