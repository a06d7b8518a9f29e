import SealdropFormat

/// Cuts a byte stream into SFTP packets, whatever pieces the bytes arrive
/// in, and refuses a declared length over the limit before buffering it.
public struct SFTPPacketFramer: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// Adds bytes as they arrive from the channel.
    public mutating func append<C: Collection<UInt8>>(_ bytes: C) {
        // Drop what was consumed, so the buffer holds at most one packet
        // beyond what is pending, whatever the session's length.
        if start > 0, start == buffer.count || start > SFTPLimits.maximumPacketLength {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole packet, nil if more bytes are needed. A length over
    /// `SFTPLimits.maximumPacketLength` throws: the stream cannot be
    /// resynchronised after it, so the session must end.
    public mutating func nextPacket() throws(SFTPError) -> SFTPMessage? {
        guard let body = try nextPacketBody() else { return nil }
        return try SFTPMessage.decode(body)
    }

    /// The next packet's body (type and payload) without decoding it.
    public mutating func nextPacketBody() throws(SFTPError) -> ArraySlice<UInt8>? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        var reader = WireReader(buffer[start..<(start + 4)])
        let length = Int((try? reader.readUInt32()) ?? 0)
        guard length <= SFTPLimits.maximumPacketLength else {
            throw SFTPError(.packetTooLarge, "a packet declares \(length) bytes, more than the limit of \(SFTPLimits.maximumPacketLength)")
        }
        guard length > 0 else { throw SFTPError(.truncated, "a packet declares zero bytes") }
        guard available >= 4 + length else { return nil }
        let body = buffer[(start + 4)..<(start + 4 + length)]
        start += 4 + length
        return body
    }

    /// Bytes received but not yet returned as packets.
    public var bufferedCount: Int { buffer.count - start }
}
