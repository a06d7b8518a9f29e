import SealdropFormat

/// ATTRS (draft-02 §5): each field present only when its flag is set.
public struct SFTPAttributes: Equatable, Sendable {
    public var size: UInt64?
    public var userID: UInt32?
    public var groupID: UInt32?
    public var permissions: UInt32?
    public var accessTime: UInt32?
    public var modificationTime: UInt32?
    public var extended: [(type: [UInt8], data: [UInt8])]

    static let sizeFlag: UInt32 = 0x0000_0001
    static let userGroupFlag: UInt32 = 0x0000_0002
    static let permissionsFlag: UInt32 = 0x0000_0004
    static let timesFlag: UInt32 = 0x0000_0008
    static let extendedFlag: UInt32 = 0x8000_0000

    /// Mode bits for the listings we produce.
    public static let regularFile: UInt32 = 0o100000
    public static let directory: UInt32 = 0o040000

    public init(
        size: UInt64? = nil, userID: UInt32? = nil, groupID: UInt32? = nil, permissions: UInt32? = nil,
        accessTime: UInt32? = nil, modificationTime: UInt32? = nil, extended: [(type: [UInt8], data: [UInt8])] = []
    ) {
        self.size = size
        self.userID = userID
        self.groupID = groupID
        self.permissions = permissions
        self.accessTime = accessTime
        self.modificationTime = modificationTime
        self.extended = extended
    }

    public static let empty = SFTPAttributes()

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.size == rhs.size && lhs.userID == rhs.userID && lhs.groupID == rhs.groupID
            && lhs.permissions == rhs.permissions && lhs.accessTime == rhs.accessTime
            && lhs.modificationTime == rhs.modificationTime
            && lhs.extended.map(\.type) == rhs.extended.map(\.type) && lhs.extended.map(\.data) == rhs.extended.map(\.data)
    }

    func encode(into writer: inout WireWriter) {
        var flags: UInt32 = 0
        if size != nil { flags |= Self.sizeFlag }
        if userID != nil || groupID != nil { flags |= Self.userGroupFlag }
        if permissions != nil { flags |= Self.permissionsFlag }
        if accessTime != nil || modificationTime != nil { flags |= Self.timesFlag }
        if !extended.isEmpty { flags |= Self.extendedFlag }
        writer.writeUInt32(flags)
        if let size { writer.writeUInt64(size) }
        if flags & Self.userGroupFlag != 0 {
            writer.writeUInt32(userID ?? 0)
            writer.writeUInt32(groupID ?? 0)
        }
        if let permissions { writer.writeUInt32(permissions) }
        if flags & Self.timesFlag != 0 {
            writer.writeUInt32(accessTime ?? 0)
            writer.writeUInt32(modificationTime ?? 0)
        }
        if !extended.isEmpty {
            writer.writeUInt32(UInt32(extended.count))
            for pair in extended {
                writer.writeSSHString(pair.type)
                writer.writeSSHString(pair.data)
            }
        }
    }

    static func decode(from reader: inout WireReader) throws(SFTPError) -> SFTPAttributes {
        do {
            let flags = try reader.readUInt32()
            let known = sizeFlag | userGroupFlag | permissionsFlag | timesFlag | extendedFlag
            guard flags & ~known == 0 else {
                throw SFTPError(.malformed, "ATTRS carries unknown flags 0x\(String(flags & ~known, radix: 16))")
            }
            var attributes = SFTPAttributes()
            if flags & sizeFlag != 0 { attributes.size = try reader.readUInt64() }
            if flags & userGroupFlag != 0 {
                attributes.userID = try reader.readUInt32()
                attributes.groupID = try reader.readUInt32()
            }
            if flags & permissionsFlag != 0 { attributes.permissions = try reader.readUInt32() }
            if flags & timesFlag != 0 {
                attributes.accessTime = try reader.readUInt32()
                attributes.modificationTime = try reader.readUInt32()
            }
            if flags & extendedFlag != 0 {
                let count = try reader.readUInt32()
                guard count <= SFTPLimits.maximumExtendedAttributes else {
                    throw SFTPError(.fieldTooLong, "ATTRS declares \(count) extended attributes, more than \(SFTPLimits.maximumExtendedAttributes)")
                }
                for _ in 0..<count {
                    let type = Array(try reader.readSSHString(maximumLength: SFTPLimits.maximumPacketLength))
                    let data = Array(try reader.readSSHString(maximumLength: SFTPLimits.maximumPacketLength))
                    attributes.extended.append((type, data))
                }
            }
            return attributes
        } catch let error as SFTPError {
            throw error
        } catch {
            throw SFTPError(.truncated, "ATTRS is cut short")
        }
    }
}
