/// The cleartext part of an envelope: who sealed it for whom, when, and the
/// keys needed to start decrypting. Every field is covered by the sender's
/// signature (`SignedEnvelopeHeader`).
public struct EnvelopeHeader: Equatable, Sendable {
    public var transferID: [UInt8]
    public var senderKey: Fingerprint
    /// Fingerprint of the sender's X.509 certificate, when sealed with one.
    public var senderCertificate: Fingerprint?
    public var recipientKey: Fingerprint
    /// Fingerprint of the recipient's X.509 certificate, when sealed to one.
    public var recipientCertificate: Fingerprint?
    /// Unix seconds at which the sender sealed the file.
    public var created: Int64
    /// Unix seconds after which the sender asks that the file be deleted.
    public var expires: Int64
    public var chunkSize: UInt32
    /// The secretstream key, sealed (`crypto_box_seal`) to the recipient's X25519 key.
    public var sealedFileKey: [UInt8]
    /// The secretstream header (`crypto_secretstream_xchacha20poly1305_init_push`).
    public var streamHeader: [UInt8]

    public init(
        transferID: [UInt8],
        senderKey: Fingerprint,
        senderCertificate: Fingerprint? = nil,
        recipientKey: Fingerprint,
        recipientCertificate: Fingerprint? = nil,
        created: Int64,
        expires: Int64,
        chunkSize: UInt32 = UInt32(EnvelopeFormat.chunkSize),
        sealedFileKey: [UInt8],
        streamHeader: [UInt8]
    ) {
        self.transferID = transferID
        self.senderKey = senderKey
        self.senderCertificate = senderCertificate
        self.recipientKey = recipientKey
        self.recipientCertificate = recipientCertificate
        self.created = created
        self.expires = expires
        self.chunkSize = chunkSize
        self.sealedFileKey = sealedFileKey
        self.streamHeader = streamHeader
    }

    /// The transfer id as 32 lower-case hex digits, the form users see.
    public var transferIDString: String { Hex.encode(transferID) }

    /// Preamble + body: exactly the bytes the sender signs (after the context).
    public func encodeSignedPart(version: UInt16 = EnvelopeFormat.version) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: EnvelopeFormat.signedHeaderLength)
        writer.write(EnvelopeFormat.magic)
        writer.writeUInt16(version)
        let body = encodeBody()
        writer.writeUInt32(UInt32(body.count))
        writer.write(body)
        return writer.bytes
    }

    func encodeBody() -> [UInt8] {
        var writer = WireWriter(reservingCapacity: EnvelopeFormat.headerBodyLength)
        writer.write(transferID)
        writer.write(senderKey.bytes)
        writer.write((senderCertificate ?? .absent).bytes)
        writer.write(recipientKey.bytes)
        writer.write((recipientCertificate ?? .absent).bytes)
        writer.writeInt64(created)
        writer.writeInt64(expires)
        writer.writeUInt32(chunkSize)
        writer.write(sealedFileKey)
        writer.write(streamHeader)
        return writer.bytes
    }

    /// Decodes a v1 body and applies the structural checks of the spec
    /// (step 6): exact length, chunk size, expiry after creation.
    static func decodeBody(_ body: ArraySlice<UInt8>) throws(EnvelopeError) -> EnvelopeHeader {
        guard body.count == EnvelopeFormat.headerBodyLength else {
            throw .malformedHeader("the header body is \(body.count) bytes; format v1 requires exactly \(EnvelopeFormat.headerBodyLength)")
        }
        var reader = WireReader(body)
        do {
            let transferID = Array(try reader.readBytes(EnvelopeFormat.transferIDLength))
            let senderKey = try readFingerprint(&reader)
            let senderCertificate = try readFingerprint(&reader)
            let recipientKey = try readFingerprint(&reader)
            let recipientCertificate = try readFingerprint(&reader)
            let created = try reader.readInt64()
            let expires = try reader.readInt64()
            let chunkSize = try reader.readUInt32()
            let sealedFileKey = Array(try reader.readBytes(EnvelopeFormat.sealedFileKeyLength))
            let streamHeader = Array(try reader.readBytes(EnvelopeFormat.streamHeaderLength))

            guard chunkSize == EnvelopeFormat.chunkSize else {
                throw EnvelopeError.malformedHeader("chunk size \(chunkSize) is not the v1 chunk size \(EnvelopeFormat.chunkSize)")
            }
            guard !senderKey.isAbsent, !recipientKey.isAbsent else {
                throw EnvelopeError.malformedHeader("a key fingerprint is all zeros")
            }
            guard created >= 0 else {
                throw EnvelopeError.malformedHeader("the creation time \(created) is before 1970")
            }
            guard expires > created else {
                throw EnvelopeError.malformedHeader("the expiry (\(expires)) is not after the creation time (\(created))")
            }
            return EnvelopeHeader(
                transferID: transferID,
                senderKey: senderKey,
                senderCertificate: senderCertificate.isAbsent ? nil : senderCertificate,
                recipientKey: recipientKey,
                recipientCertificate: recipientCertificate.isAbsent ? nil : recipientCertificate,
                created: created,
                expires: expires,
                chunkSize: chunkSize,
                sealedFileKey: sealedFileKey,
                streamHeader: streamHeader
            )
        } catch let error as EnvelopeError {
            throw error
        } catch {
            // The length was checked above, so the reader cannot run out.
            throw .malformedHeader("\(error)")
        }
    }

    private static func readFingerprint(_ reader: inout WireReader) throws(WireError) -> Fingerprint {
        Fingerprint(bytes: try reader.readBytes(Fingerprint.byteCount))!
    }
}
