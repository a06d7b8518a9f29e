import SealdropFormat

/// A libssh operation failed.
public struct SSHError: CodedError, Sendable {
    public enum Code: String, Sendable {
        case keyImportFailed = "key-import-failed"
        case keyExportFailed = "key-export-failed"
        case serverFailed = "server-failed"
        case handshakeFailed = "handshake-failed"
        case channelFailed = "channel-failed"
        case timedOut = "timed-out"
        case connectFailed = "connect-failed"
        case hostKeyMismatch = "host-key-mismatch"
        case authenticationFailed = "authentication-failed"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
