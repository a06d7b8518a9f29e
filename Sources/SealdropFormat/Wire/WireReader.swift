/// A cursor over bytes that reads big-endian integers and length-prefixed
/// strings, throwing instead of trapping when the input runs out.
///
/// Every decoder in this module reads through one of these, so a short or
/// hostile input always ends in `WireError.truncated`, never in an index trap.
public struct WireReader {
    public private(set) var bytes: ArraySlice<UInt8>

    public init<C: Collection<UInt8>>(_ bytes: C) {
        self.bytes = ArraySlice(bytes)
    }

    public var isAtEnd: Bool { bytes.isEmpty }
    public var remainingCount: Int { bytes.count }

    public mutating func readBytes(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count else {
            throw .truncated(needed: count, available: bytes.count)
        }
        let slice = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return slice
    }

    public mutating func readUInt8() throws(WireError) -> UInt8 {
        try readBytes(1).first!
    }

    public mutating func readUInt16() throws(WireError) -> UInt16 {
        UInt16(truncatingIfNeeded: try readBigEndian(2))
    }

    public mutating func readUInt32() throws(WireError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readBigEndian(4))
    }

    public mutating func readUInt64() throws(WireError) -> UInt64 {
        try readBigEndian(8)
    }

    public mutating func readInt64() throws(WireError) -> Int64 {
        Int64(bitPattern: try readBigEndian(8))
    }

    /// An SSH `string` (RFC 4251 §5): a uint32 length, then that many bytes.
    public mutating func readSSHString(maximumLength: Int) throws(WireError) -> ArraySlice<UInt8> {
        let length = try readUInt32()
        guard length <= maximumLength else {
            throw .lengthTooLarge(declared: Int(length), limit: maximumLength)
        }
        return try readBytes(Int(length))
    }

    private mutating func readBigEndian(_ width: Int) throws(WireError) -> UInt64 {
        var value: UInt64 = 0
        for byte in try readBytes(width) {
            value = value << 8 | UInt64(byte)
        }
        return value
    }
}

/// A growable byte buffer with big-endian and SSH `string` writers.
public struct WireWriter {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write<C: Collection<UInt8>>(_ data: C) {
        bytes.append(contentsOf: data)
    }

    public mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    public mutating func writeUInt16(_ value: UInt16) {
        writeBigEndian(UInt64(value), width: 2)
    }

    public mutating func writeUInt32(_ value: UInt32) {
        writeBigEndian(UInt64(value), width: 4)
    }

    public mutating func writeUInt64(_ value: UInt64) {
        writeBigEndian(value, width: 8)
    }

    public mutating func writeInt64(_ value: Int64) {
        writeBigEndian(UInt64(bitPattern: value), width: 8)
    }

    public mutating func writeSSHString<C: Collection<UInt8>>(_ data: C) {
        writeUInt32(UInt32(data.count))
        write(data)
    }

    private mutating func writeBigEndian(_ value: UInt64, width: Int) {
        for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}

/// A low-level decoding failure; format decoders map it to their own errors.
public enum WireError: Error, Equatable, Sendable {
    case truncated(needed: Int, available: Int)
    case lengthTooLarge(declared: Int, limit: Int)
}
