import SealdropFormat

/// Bounds the codec enforces before allocating anything.
public enum SFTPLimits {
    /// The largest packet accepted, length field excluded: OpenSSH's
    /// sftp-server uses 256 KiB (`SFTP_MAX_MSG_LENGTH`), and its client never
    /// sends more, so a bigger length can only be an attack or a bug.
    public static let maximumPacketLength = 256 * 1024

    /// The protocol version spoken: 3, draft-ietf-secsh-filexfer-02, the
    /// one OpenSSH implements.
    public static let version: UInt32 = 3

    /// Longest path accepted; Linux's PATH_MAX is 4096.
    public static let maximumPathLength = 4096

    /// A handle is ours to choose; we never make one longer than this.
    public static let maximumHandleLength = 256

    /// Extended attribute pairs per ATTRS; OpenSSH sends none.
    public static let maximumExtendedAttributes = 64

    /// Names per NAME reply; readdir answers in batches no larger.
    public static let maximumNamesPerReply = 1024
}

/// SSH_FX_* status codes (draft-02 §7).
public enum SFTPStatusCode: UInt32, Sendable, Equatable, CaseIterable {
    case ok = 0
    case eof = 1
    case noSuchFile = 2
    case permissionDenied = 3
    case failure = 4
    case badMessage = 5
    case noConnection = 6
    case connectionLost = 7
    case operationUnsupported = 8
}

/// SSH_FXF_* open flags (draft-02 §6.3).
public struct SFTPOpenFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let read = SFTPOpenFlags(rawValue: 0x01)
    public static let write = SFTPOpenFlags(rawValue: 0x02)
    public static let append = SFTPOpenFlags(rawValue: 0x04)
    public static let create = SFTPOpenFlags(rawValue: 0x08)
    public static let truncate = SFTPOpenFlags(rawValue: 0x10)
    public static let exclusive = SFTPOpenFlags(rawValue: 0x20)
}

/// A packet that cannot be decoded. `requestID` is set when the id was
/// readable, so the server can still answer that request with
/// SSH_FX_BAD_MESSAGE instead of dropping the session.
public struct SFTPError: CodedError, Sendable {
    public enum Code: String, Sendable {
        case packetTooLarge = "packet-too-large"
        case truncated = "truncated"
        case trailingBytes = "trailing-bytes"
        case unknownType = "unknown-type"
        case fieldTooLong = "field-too-long"
        case malformed = "malformed"
    }

    public let code: Code
    public let message: String
    public let requestID: UInt32?

    public init(_ code: Code, _ message: String, requestID: UInt32? = nil) {
        self.code = code
        self.message = message
        self.requestID = requestID
    }

}
