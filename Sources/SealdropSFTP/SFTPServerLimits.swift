import SealdropFormat

/// The `limits@openssh.com` extension (OpenSSH's PROTOCOL, §4.8): the
/// server announces it in VERSION, and answers the EXTENDED request of that
/// name with four uint64 values. Clients that honour it size their READs
/// and WRITEs from it instead of guessing (pkg/sftp falls back to 32 KiB
/// blocks without it).
public struct SFTPServerLimits: Equatable, Sendable {
    /// The extension's name, in VERSION and in the EXTENDED request.
    public static let name = "limits@openssh.com"
    /// Its version string in VERSION.
    public static let version = "1"

    /// Largest packet the server accepts, length field excluded.
    public var maximumPacketLength: UInt64
    /// Most bytes one READ returns.
    public var maximumReadLength: UInt64
    /// Most bytes one WRITE may carry.
    public var maximumWriteLength: UInt64
    /// Handles one session may hold open at once.
    public var maximumOpenHandles: UInt64

    public init(maximumPacketLength: UInt64, maximumReadLength: UInt64, maximumWriteLength: UInt64, maximumOpenHandles: UInt64) {
        self.maximumPacketLength = maximumPacketLength
        self.maximumReadLength = maximumReadLength
        self.maximumWriteLength = maximumWriteLength
        self.maximumOpenHandles = maximumOpenHandles
    }

    /// The reply's payload (what follows the request id in SSH_FXP_EXTENDED_REPLY).
    public var encoded: [UInt8] {
        var writer = WireWriter(reservingCapacity: 32)
        for value in [maximumPacketLength, maximumReadLength, maximumWriteLength, maximumOpenHandles] { writer.writeUInt64(value) }
        return writer.bytes
    }

    /// Reads a reply's payload; trailing bytes are ignored, as OpenSSH's client does.
    public static func decode(_ payload: [UInt8]) throws(SFTPError) -> SFTPServerLimits {
        var reader = WireReader(payload)
        do {
            return SFTPServerLimits(
                maximumPacketLength: try reader.readUInt64(), maximumReadLength: try reader.readUInt64(),
                maximumWriteLength: try reader.readUInt64(), maximumOpenHandles: try reader.readUInt64())
        } catch {
            throw SFTPError(.truncated, "a limits@openssh.com reply needs four uint64 values")
        }
    }
}

extension SFTPLimits {
    /// The most data one READ or WRITE carries: OpenSSH's sftp-server uses
    /// its packet limit less 1 KiB (`SFTP_MAX_READ_LENGTH`), which leaves room
    /// for the header and the handle inside `maximumPacketLength`.
    public static let maximumDataLength = maximumPacketLength - 1024
}
