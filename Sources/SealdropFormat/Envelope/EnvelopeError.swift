/// Why an envelope was refused. `code` is stable (tests and test vectors
/// compare it); `message` says what happened and what to do about it.
///
/// Equality compares the code only, so a test can expect a failure kind
/// without restating the details of the message.
public struct EnvelopeError: CodedError, Sendable {
    /// One code per check in the spec, in the order a reader makes them.
    public enum Code: String, Sendable, CaseIterable {
        case emptyInput = "empty-input"
        case badMagic = "bad-magic"
        case unsupportedVersion = "unsupported-version"
        case headerTooLarge = "header-too-large"
        case truncatedHeader = "truncated-header"
        case malformedHeader = "malformed-header"
        case senderMismatch = "sender-mismatch"
        case badSignature = "bad-signature"
        case wrongRecipient = "wrong-recipient"
        case fileKeyUnreadable = "file-key-unreadable"
        case truncatedStream = "truncated-stream"
        case chunkAuthenticationFailed = "chunk-authentication-failed"
        case unexpectedTag = "unexpected-tag"
        case malformedMetadata = "malformed-metadata"
        case malformedChunk = "malformed-chunk"
        case trailingData = "trailing-data"
        // Format v2: the sender's signed trailer (spec v2, section 5).
        case trailerMissing = "trailer-missing"
        case malformedTrailer = "malformed-trailer"
        case badTrailerSignature = "bad-trailer-signature"
        case trailerHeaderMismatch = "trailer-header-mismatch"
        case trailerLengthMismatch = "trailer-length-mismatch"
        case trailerHashMismatch = "trailer-hash-mismatch"
        // Only a reader without the recipient's key (the drop box) makes these.
        case plaintextBody = "plaintext-body"
        case legacyVersion = "legacy-version"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension EnvelopeError {
    static func truncatedHeader(have: Int, need: Int) -> Self {
        .init(.truncatedHeader, "the envelope header is cut short: it needs \(need) bytes and the file ends after \(have); the file was truncated in transit")
    }

    static func malformedHeader(_ reason: String) -> Self {
        .init(.malformedHeader, "the envelope header is malformed: \(reason)")
    }

    static func malformedMetadata(_ reason: String) -> Self {
        .init(.malformedMetadata, "the encrypted file description is malformed: \(reason); the sender's software does not follow the envelope format")
    }

    static func malformedChunk(_ index: UInt64, _ reason: String) -> Self {
        .init(.malformedChunk, "chunk \(index) is malformed: \(reason); the sender's software does not follow the envelope format")
    }
}
