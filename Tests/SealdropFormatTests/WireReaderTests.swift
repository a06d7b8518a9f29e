import Testing
@testable import SealdropFormat

@Suite struct WireReaderTests {
    @Test func readsBigEndianIntegers() throws {
        var reader = WireReader([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f])
        #expect(try reader.readUInt8() == 0x01)
        #expect(try reader.readUInt16() == 0x0203)
        #expect(try reader.readUInt32() == 0x0405_0607)
        #expect(try reader.readUInt64() == 0x0809_0a0b_0c0d_0e0f)
        #expect(reader.isAtEnd)
    }

    @Test func throwsInsteadOfTrappingWhenShort() {
        var reader = WireReader([0x00, 0x00, 0x00])
        #expect(throws: WireError.truncated(needed: 4, available: 3)) { try reader.readUInt32() }
        var strings = WireReader([0x00, 0x00, 0x00, 0x09, 0x41])
        #expect(throws: WireError.truncated(needed: 9, available: 1)) { try strings.readSSHString(maximumLength: 100) }
        var huge = WireReader([0xff, 0xff, 0xff, 0xff])
        #expect(throws: WireError.lengthTooLarge(declared: 0xffff_ffff, limit: 100)) { try huge.readSSHString(maximumLength: 100) }
    }

    @Test func writerAndReaderAgree() throws {
        var writer = WireWriter()
        writer.writeUInt16(0xbeef)
        writer.writeInt64(-2)
        writer.writeSSHString(Array("ssh-ed25519".utf8))
        #expect(writer.bytes.prefix(2) == [0xbe, 0xef])
        var reader = WireReader(writer.bytes)
        #expect(try reader.readUInt16() == 0xbeef)
        #expect(try reader.readInt64() == -2)
        #expect(Array(try reader.readSSHString(maximumLength: 64)) == Array("ssh-ed25519".utf8))
    }

    @Test func hexAndBase64() {
        #expect(Hex.encode([0x00, 0xab, 0xff]) == "00abff")
        #expect(Hex.decode("00ABff") == [0x00, 0xab, 0xff])
        #expect(Hex.decode("0g") == nil)
        #expect(Hex.decode("abc") == nil)
        #expect(Base64.encode([0xff, 0xfe], padded: false) == "//4")
        #expect(Base64.decode("//4=") == [0xff, 0xfe])
        #expect(Base64.decode("not base64!") == nil)
    }
}
