internal import CSodium
import SealdropFormat

/// libsodium's one-time initialisation. Every wrapper calls `ensureReady()`
/// before its first C call; Swift runs the global initialiser exactly once,
/// thread-safely.
enum Sodium {
    private static let initialised: Bool = sodium_init() >= 0

    static func ensureReady() {
        precondition(initialised, "libsodium failed to initialise: no secure random source on this system")
    }
}

/// A libsodium call failed. libsodium reports no detail, so the message
/// names the operation.
public struct CryptoError: CodedError, Sendable {
    public enum Code: String, Sendable {
        case invalidKey = "invalid-key"
        case openFailed = "open-failed"
        case authenticationFailed = "authentication-failed"
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// Turns a libsodium return code (0 = success) into a typed error.
@inline(__always)
func check(_ result: Int32, _ error: @autoclosure () -> CryptoError) throws(CryptoError) {
    guard result == 0 else { throw error() }
}
