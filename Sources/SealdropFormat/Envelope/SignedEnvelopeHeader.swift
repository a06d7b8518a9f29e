/// An envelope header together with the sender's signature over it, as it
/// appears at the start of every envelope file.
///
/// Decoding checks structure only; the signature is checked by whoever holds
/// the expected sender key (`SealdropEnvelope`), because the format layer
/// does no cryptography.
public struct SignedEnvelopeHeader: Equatable, Sendable {
    public let header: EnvelopeHeader
    /// The format version in the preamble (`EnvelopeFormat.readableVersions`).
    public let version: UInt16
    /// Preamble + body, exactly as read (or written).
    public let signedPart: [UInt8]
    public let signature: [UInt8]

    public init(header: EnvelopeHeader, signature: [UInt8], version: UInt16 = EnvelopeFormat.version) {
        self.header = header
        self.version = version
        self.signedPart = header.encodeSignedPart(version: version)
        self.signature = signature
    }

    private init(header: EnvelopeHeader, version: UInt16, signedPart: [UInt8], signature: [UInt8]) {
        self.header = header
        self.version = version
        self.signedPart = signedPart
        self.signature = signature
    }

    /// The message the sender signs: the domain-separation context of the
    /// version written in `signedPart`, then the preamble and body.
    public static func signingMessage(for signedPart: [UInt8]) -> [UInt8] {
        let version = signedPart.count >= 10 ? UInt16(signedPart[8]) << 8 | UInt16(signedPart[9]) : EnvelopeFormat.version
        return EnvelopeFormat.headerSignatureContext(version: version) + signedPart
    }

    /// True for format v1, which has no trailer.
    public var isLegacy: Bool { version == EnvelopeFormat.legacyVersion }

    public var signingMessage: [UInt8] { Self.signingMessage(for: signedPart) }

    /// Everything before the first chunk, byte for byte.
    public var encoded: [UInt8] { signedPart + signature }

    /// The outcome of looking at the first bytes of a file.
    public enum ParseResult: Equatable, Sendable {
        /// More bytes are needed; at least this many in all.
        case needsMore(atLeast: Int)
        case complete(SignedEnvelopeHeader, byteCount: Int)
    }

    /// Parses the header from the first bytes of an envelope.
    ///
    /// Feed it what has been read so far: it asks for more until the
    /// declared header is complete, and throws as soon as the bytes it has
    /// cannot begin an envelope. Checks run in the spec's order: magic,
    /// version, declared length, completeness, body structure.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(EnvelopeError) -> ParseResult {
        let magic = EnvelopeFormat.magic
        let magicPrefix = min(bytes.count, magic.count)
        guard bytes.prefix(magicPrefix).elementsEqual(magic.prefix(magicPrefix)) else {
            throw EnvelopeError(.badMagic, "this is not a sealdrop envelope: it does not start with the bytes \"sealdrop\"")
        }
        guard bytes.count >= EnvelopeFormat.preambleLength else {
            return .needsMore(atLeast: EnvelopeFormat.preambleLength)
        }
        var reader = WireReader(bytes.dropFirst(magic.count))
        // Both reads are covered by the preamble length check above.
        let version = (try? reader.readUInt16()) ?? 0
        let bodyLength = Int((try? reader.readUInt32()) ?? 0)
        guard EnvelopeFormat.readableVersions.contains(version) else {
            throw EnvelopeError(
                .unsupportedVersion,
                "envelope format version \(version) is not supported; this sealdrop reads versions 1 and 2 only, so the sender may use a newer release"
            )
        }
        guard bodyLength <= EnvelopeFormat.maximumHeaderBodyLength else {
            throw EnvelopeError(.headerTooLarge, "the header declares \(bodyLength) bytes, more than the limit of \(EnvelopeFormat.maximumHeaderBodyLength)")
        }
        let total = EnvelopeFormat.preambleLength + bodyLength + EnvelopeFormat.signatureLength
        guard bytes.count >= total else {
            return .needsMore(atLeast: total)
        }
        let start = bytes.startIndex
        let body = bytes[(start + EnvelopeFormat.preambleLength)..<(start + EnvelopeFormat.preambleLength + bodyLength)]
        let header = try EnvelopeHeader.decodeBody(body)
        let signedEnd = start + EnvelopeFormat.preambleLength + bodyLength
        let signed = SignedEnvelopeHeader(
            header: header,
            version: version,
            signedPart: Array(bytes[start..<signedEnd]),
            signature: Array(bytes[signedEnd..<(start + total)])
        )
        return .complete(signed, byteCount: total)
    }

    /// Parses a complete header, treating "needs more" as truncation.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(EnvelopeError) -> (SignedEnvelopeHeader, byteCount: Int) {
        if bytes.isEmpty {
            throw EnvelopeError(.emptyInput, "the file is empty: it is not a sealdrop envelope")
        }
        switch try parse(bytes) {
        case .needsMore(let needed):
            throw .truncatedHeader(have: bytes.count, need: needed)
        case .complete(let header, let count):
            return (header, count)
        }
    }
}
