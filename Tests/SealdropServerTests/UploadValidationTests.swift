import Foundation
@_spi(TestVectors) import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropStore
import SealdropTrust
import Testing
import TestSupport

/// The drop box publishes only whole format v2 ciphertext: a real
/// `sealdropd`, the real OpenSSH `sftp`, envelopes cut, forged or in the
/// clear, each refused with its reason, nothing published and the staging
/// area left empty.
@Suite struct UploadValidationTests {
    static let header = EnvelopeFormat.signedHeaderLength
    static let chunk = EnvelopeFormat.sealedChunkSize

    /// What oldvendor's software would write, as raw writer calls: the
    /// header it signs for newvendor (with both certificates), then `body`.
    static func crafted(
        _ server: ServerFixture, version: UInt16 = EnvelopeFormat.version, body: (EnvelopeWriter<MemorySink>) throws -> Void
    ) throws -> [UInt8] {
        let trust = try TrustStore.load(directory: server.trust)
        let sender = try trust.party(named: try VendorName("oldvendor"), for: .sender)
        let recipient = try trust.party(named: try VendorName("newvendor"), for: .recipient)
        let created = Int64(Date().timeIntervalSince1970)
        let writer = try EnvelopeWriter(
            sink: MemorySink(), sender: try VendorIdentity.load(path: server.directory.file("oldvendor"), passphrase: .none),
            recipient: recipient.key,
            parties: EnvelopeParties(senderCertificate: sender.certificate.fingerprint, recipientCertificate: recipient.certificate.fingerprint),
            created: created, expires: created + 3600, version: version)
        try body(writer)
        return writer.output.bytes
    }

    /// Uploads `bytes` as oldvendor to newvendor's outbox.
    static func upload(_ server: ServerFixture, _ bytes: [UInt8], name: String) throws -> ProcessResult {
        _ = try server.directory.write(bytes, to: name)
        return try server.sftp("oldvendor", ["put \(name) /outbox/newvendor/"])
    }

    static func expectNothingPublished(_ server: ServerFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(server.entries("blobs").isEmpty, "nothing published", sourceLocation: sourceLocation)
        #expect(server.entries("staging").isEmpty, "staging is clean", sourceLocation: sourceLocation)
        let inbox = try server.sftp("newvendor", ["ls /inbox"])
        #expect(!inbox.output.contains(".sealdrop"), "the recipient sees nothing", sourceLocation: sourceLocation)
    }

    @Test func anEnvelopeCutAtAChunkBoundaryIsRefusedAndTheRetryPublished() throws {
        let server = try ServerFixture()
        let name = try server.seal(Fixtures.bytes(3 * EnvelopeFormat.chunkDataCapacity + 10, seed: 5))
        let whole = try server.directory.read(name)
        #expect(whole.count == Self.header + 5 * Self.chunk + EnvelopeFormat.trailerLength)

        // The last message and the trailer lost: what a dropped connection
        // leaves when it breaks between two writes of whole chunks.
        let cut = try Self.upload(server, Array(whole.prefix(Self.header + 4 * Self.chunk)), name: "cut.sealdrop")
        #expect(cut.status != 0)
        try Self.expectNothingPublished(server)
        // Only the trailer lost.
        let trailerless = try Self.upload(server, Array(whole.prefix(Self.header + 5 * Self.chunk)), name: "trailerless.sealdrop")
        #expect(trailerless.status != 0)
        try Self.expectNothingPublished(server)

        // The transfer id was never recorded, so sending it again works.
        let retry = try server.sftp("oldvendor", ["put \(name) /outbox/newvendor/"])
        #expect(retry.status == 0, "\(retry.standardError)")
        #expect(server.entries("blobs").count == 1)
        #expect(server.entries("staging").isEmpty)
        let log = server.log()
        #expect(log.components(separatedBy: "upload rejected: truncated at a chunk boundary, the sender's signed trailer is missing").count == 3, "\(log)")
        #expect(!log.contains("replayed envelope"))
    }

    @Test func aSignedHeaderOverAPlaintextBodyIsRefused() throws {
        let server = try ServerFixture()
        var sql = [UInt8]()
        while sql.count < 3 * Self.chunk {
            sql += Array("INSERT INTO patient (nir, name, hiv) VALUES ('1 85 05 78 006 084', 'Durand', false);\n".utf8)
        }
        // A valid header, the dump in place of the stream, and a valid
        // trailer over exactly these bytes: only the distribution shows it.
        let forged = try Self.crafted(server) { writer in
            try writer.appendRaw(Array(sql.prefix(3 * Self.chunk)))
            try writer.finish()
        }
        #expect(forged.count == Self.header + 3 * Self.chunk + EnvelopeFormat.trailerLength)
        let result = try Self.upload(server, forged, name: "plain.sealdrop")
        #expect(result.status != 0)
        try Self.expectNothingPublished(server)
        #expect(server.log().contains("upload rejected: it looks like plaintext: chunk 0 does not look like ciphertext"))
    }

    @Test func aFormatOneEnvelopeIsRefusedWithAnUpdateHint() throws {
        let server = try ServerFixture()
        let legacy = try Self.crafted(server, version: EnvelopeFormat.legacyVersion) { writer in
            try writer.push(try FileDescription(fileName: "old.sql").encode(), tag: .message)
            var message = [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize)
            StreamMessage.writeFraming(into: &message, dataLength: 0, offset: 0)
            try writer.push(message, tag: .final)
        }
        #expect(EnvelopeFormat.isConsistentLength(UInt64(legacy.count), version: 1))
        let result = try Self.upload(server, legacy, name: "legacy.sealdrop")
        #expect(result.status != 0)
        try Self.expectNothingPublished(server)
        #expect(server.log().contains("upload rejected: envelope format v1 is no longer accepted for upload: update sealdrop on the sending side"))
    }

    @Test func aTrailerSignedByAnotherVendorIsRefused() throws {
        let server = try ServerFixture()
        let name = try server.seal(Fixtures.bytes(1000, seed: 9))
        var bytes = try server.directory.read(name)
        let content = Array(bytes.dropLast(EnvelopeFormat.trailerLength))
        let genuine = try EnvelopeTrailer.decode(bytes.suffix(EnvelopeFormat.trailerLength))
        let stranger = try VendorIdentity.load(path: server.directory.file("stranger"), passphrase: .none)
        let forged = EnvelopeTrailer(
            headerHash: genuine.headerHash, bodyLength: genuine.bodyLength, contentHash: genuine.contentHash,
            signature: stranger.signingKey.signature(for: genuine.signingMessage))
        bytes = content + forged.encoded
        let result = try Self.upload(server, bytes, name: "forged.sealdrop")
        #expect(result.status != 0)
        try Self.expectNothingPublished(server)
        #expect(server.log().contains("upload rejected: its trailer signature does not verify against your certificate"))
    }

    @Test func aWholeVersionTwoEnvelopeIsPublishedWithItsRecordedHash() throws {
        let server = try ServerFixture()
        let name = try server.seal(Fixtures.bytes(200_000, seed: 3))
        let bytes = try server.directory.read(name)
        #expect(bytes[9] == 2, "the command line seals format v2")
        let result = try server.sftp("oldvendor", ["put \(name) /outbox/newvendor/"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(server.entries("blobs").count == 1)
        #expect(server.entries("staging").isEmpty)
        _ = server.log()
        let store = try SQLiteTransferStore(path: server.data + "/metadata.sqlite")
        let published = try #require(try store.events().first { $0.kind == .uploadPublished })
        var source = MemorySource(bytes)
        let sender = try VendorIdentity.load(path: server.directory.file("oldvendor"), passphrase: .none).publicKey
        let verified = try EnvelopeVerification.verify(from: &source, length: UInt64(bytes.count)) { _ in sender }
        #expect(published.ciphertextSHA256 == Hex.encode(verified.sha256), "the recorded hash is the whole file's, from the same pass")
    }
}
