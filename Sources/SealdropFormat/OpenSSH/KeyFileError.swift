/// Why a key file could not be read. Messages name the problem; the caller
/// adds the file path.
public struct KeyFileError: CodedError, Sendable {
    public enum Code: String, Sendable {
        case notAKeyFile = "not-a-key-file"
        case unsupportedKeyType = "unsupported-key-type"
        case malformed = "malformed"
        case encrypted = "encrypted"
        case wrongPassphrase = "wrong-passphrase"
        case passphraseUnavailable = "passphrase-unavailable"
        case unreadable = "unreadable"
        case unwritable = "unwritable"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func malformed(_ reason: String) -> Self {
        .init(.malformed, "the key is corrupt: \(reason)")
    }

    static func unsupported(_ type: String) -> Self {
        .init(.unsupportedKeyType, "it is a \(type) key; sealdrop identities are Ed25519 keys (make one with `sealdrop keygen` or `ssh-keygen -t ed25519`)")
    }
}
