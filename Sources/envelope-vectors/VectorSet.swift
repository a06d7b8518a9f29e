import Foundation
@_spi(TestVectors) import SealdropEnvelope
import SealdropCrypto
import SealdropFormat
import SealdropIO
import SealdropKeys

/// One vector: a file and what a reader must make of it.
struct Vector {
    let file: String
    let comment: String
    var sender = "sender"
    var recipient = "recipient"
    /// "ok" or an `EnvelopeError.Code` raw value: what the reader (which
    /// holds the recipient's key) must make of the file.
    let expect: String
    /// Format v2: what a keyless verifier holding the sender's public key
    /// (the drop box) must make of it; nil in the v1 set.
    var expectVerifier: String? = nil
    var plaintext: [UInt8]? = nil
    var fileName: String? = nil
    var note: String? = nil
    let bytes: [UInt8]
}

enum VectorSet {
    static let created: Int64 = 1_800_000_000
    static let expires: Int64 = created + 72 * 3600

    static let sender = VectorKey(name: "sender")
    static let recipient = VectorKey(name: "recipient")
    static let other = VectorKey(name: "other")

    /// Writes the vectors of format `version` (1 or 2) to `directory`.
    static func write(to directory: String, version: UInt16) throws {
        try FileManager.default.createDirectory(atPath: directory + "/keys", withIntermediateDirectories: true)
        for key in [sender, recipient, other] {
            try key.writeKeyFiles(to: directory + "/keys")
        }
        let vectors = try version == EnvelopeFormat.legacyVersion ? VectorCases.all() : VectorCasesV2.all()
        var entries = [[String: Any]]()
        for vector in vectors {
            try Data(vector.bytes).write(to: URL(fileURLWithPath: directory + "/" + vector.file))
            var entry: [String: Any] = [
                "file": vector.file,
                "comment": vector.comment,
                "sender": vector.sender,
                "recipient": vector.recipient,
                "expect": vector.expect,
            ]
            if let expectVerifier = vector.expectVerifier {
                entry["expect_verifier"] = expectVerifier
            }
            if let plaintext = vector.plaintext {
                entry["plaintext_size"] = plaintext.count
                entry["plaintext_sha256"] = Hex.encode(Digest.sha256(plaintext))
                entry["file_name"] = vector.fileName ?? ""
                entry["note"] = vector.note ?? ""
            }
            entries.append(entry)
        }
        let manifest: [String: Any] = [
            "format": "sealdrop envelope v\(version)",
            "generator": "ops/gen-vectors",
            "keys": [
                "sender": sender.manifestEntry,
                "recipient": recipient.manifestEntry,
                "other": other.manifestEntry,
            ],
            "plaintext_pattern": "byte i of an ok vector's plaintext is (i * 7 + 3) mod 256",
            "vectors": entries,
        ]
        let json = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try (json + Data("\n".utf8)).write(to: URL(fileURLWithPath: directory + "/manifest.json"))
        print("wrote \(vectors.count) vectors and 3 key pairs to \(directory)")
    }

    /// The plaintext of ok vectors: a fixed pattern, so it need not be stored.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    }

    /// Seals like `EnvelopeSealer`, with the fixed times, in format `version`.
    static func seal(
        _ plaintext: [UInt8], fileName: String, note: String = "",
        from: VectorKey = sender, to: VectorKey = recipient,
        parties: EnvelopeParties = EnvelopeParties(), version: UInt16
    ) throws -> [UInt8] {
        let writer = try EnvelopeWriter(
            sink: MemorySink(), sender: from.identity, recipient: to.identity.publicKey,
            parties: parties, created: created, expires: expires, version: version
        )
        try writer.push(try FileDescription(fileName: fileName, note: note).encode(), tag: .message)
        try pushData(plaintext, to: writer)
        try writer.finish()
        return writer.output.bytes
    }

    /// Cuts `plaintext` into v1 data messages and pushes them.
    static func pushData(_ plaintext: [UInt8], to writer: EnvelopeWriter<MemorySink>) throws {
        let capacity = EnvelopeFormat.chunkDataCapacity
        var offset = 0
        while true {
            let count = min(capacity, plaintext.count - offset)
            let isFinal = count < capacity
            try writer.push(dataMessage(Array(plaintext[offset..<(offset + count)]), offset: offset), tag: isFinal ? .final : .message)
            offset += count
            if isFinal { return }
        }
    }

    static func dataMessage(_ data: [UInt8], offset: Int, declaredLength: Int? = nil) -> [UInt8] {
        var message = [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize)
        message.replaceSubrange(EnvelopeFormat.dataFramingLength..<(EnvelopeFormat.dataFramingLength + data.count), with: data)
        StreamMessage.writeFraming(into: &message, dataLength: data.count, offset: UInt64(offset))
        if let declaredLength {
            var writer = WireWriter()
            writer.writeUInt32(UInt32(declaredLength))
            message.replaceSubrange(0..<4, with: writer.bytes)
        }
        return message
    }
}
