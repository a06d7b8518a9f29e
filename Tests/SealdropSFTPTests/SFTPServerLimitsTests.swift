import SealdropSFTP
import Testing

/// The `limits@openssh.com` reply, byte for byte as OpenSSH's PROTOCOL
/// lays it out: four big-endian uint64 values.
@Suite struct SFTPServerLimitsTests {
    static let limits = SFTPServerLimits(maximumPacketLength: 262_144, maximumReadLength: 261_120, maximumWriteLength: 261_120, maximumOpenHandles: 64)

    @Test func encodesFourBigEndianIntegers() throws {
        let expected: [UInt8] =
            [0, 0, 0, 0, 0, 4, 0, 0] + [0, 0, 0, 0, 0, 3, 0xFC, 0] + [0, 0, 0, 0, 0, 3, 0xFC, 0] + [0, 0, 0, 0, 0, 0, 0, 64]
        #expect(Self.limits.encoded == expected)
        #expect(try SFTPServerLimits.decode(expected) == Self.limits)
        #expect(try SFTPServerLimits.decode(expected + [1, 2, 3]) == Self.limits, "trailing bytes are ignored")
    }

    @Test func aShortReplyIsATypedError() {
        for count in [0, 8, 31] {
            #expect(throws: SFTPError.self) { try SFTPServerLimits.decode([UInt8](repeating: 0, count: count)) }
        }
    }

    @Test func aFullReadFitsThePacketLimit() {
        let reply = SFTPMessage.data(id: .max, data: [UInt8](repeating: 0, count: SFTPLimits.maximumDataLength)).encode()
        #expect(reply.count - 4 <= SFTPLimits.maximumPacketLength)
    }
}
