import SealdropFormat

/// Why a certificate, a trust store or a CA operation was refused. `code`
/// is stable and compared in tests; `message` says what is wrong and,
/// where it helps, what to do.
public struct TrustError: CodedError, Sendable {
    public enum Code: String, Sendable, CaseIterable {
        case badName = "bad-name"
        case malformedCertificate = "malformed-certificate"
        case notEd25519 = "not-ed25519"
        case untrustedIssuer = "untrusted-issuer"
        case badSignature = "bad-signature"
        case notYetValid = "not-yet-valid"
        case expired = "expired"
        case wrongRole = "wrong-role"
        case isCertificateAuthority = "is-certificate-authority"
        case notCertificateAuthority = "not-certificate-authority"
        case unsupportedCriticalExtension = "unsupported-critical-extension"
        case revoked = "revoked"
        case badRevocationList = "bad-revocation-list"
        case staleRevocationList = "stale-revocation-list"
        case unknownVendor = "unknown-vendor"
        case keyMismatch = "key-mismatch"
        case ambiguousKey = "ambiguous-key"
        case trustStoreUnreadable = "trust-store-unreadable"
        case caOperationFailed = "ca-operation-failed"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
