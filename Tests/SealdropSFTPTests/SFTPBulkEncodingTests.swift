import SealdropFormat
import SealdropSFTP
import Testing

/// WRITE and DATA, the packets that carry a transfer's bytes, are encoded
/// on their own fast path; these pin it to the wire layout of draft-02.
@Suite struct SFTPBulkEncodingTests {
    static func hex(_ text: String) -> [UInt8] { Hex.decode(text.replacingOccurrences(of: " ", with: ""))! }

    @Test func writeAndDataMatchHandLaidOutBytes() throws {
        let write = SFTPMessage.write(id: 9, handle: Array("h1".utf8), offset: 0x1_0000_0002, data: [0xAA, 0xBB, 0xCC])
        #expect(write.encode() == Self.hex("0000001a 06 00000009 00000002 6831 0000000100000002 00000003 aabbcc"))
        let data = SFTPMessage.data(id: 10, data: [0x01, 0x02])
        #expect(data.encode() == Self.hex("0000000b 67 0000000a 00000002 0102"))
        #expect(SFTPMessage.data(id: 1, data: []).encode() == Self.hex("00000009 67 00000001 00000000"))
    }

    @Test func aWritePrefixBeforeItsDataIsTheWholePacket() throws {
        for (handleCount, dataCount) in [(0, 0), (1, 1), (4, 65_536), (256, 12_345), (17, 262_000)] {
            let handle = (0..<handleCount).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let data = (0..<dataCount).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 3) }
            let offset = UInt64(dataCount) << 20 | 5
            let prefix = SFTPMessage.writePrefix(id: 0xDEAD_BEEF, handle: handle, offset: offset, dataCount: dataCount)
            #expect(prefix.count == SFTPMessage.writePrefixLength(handleCount: handleCount))
            let packet = SFTPMessage.write(id: 0xDEAD_BEEF, handle: handle, offset: offset, data: data).encode()
            #expect(prefix + data == packet)
            var framer = SFTPPacketFramer()
            framer.append(packet)
            guard dataCount + 64 <= SFTPLimits.maximumPacketLength else { continue }
            #expect(try framer.nextPacket() == .write(id: 0xDEAD_BEEF, handle: handle, offset: offset, data: data))
        }
    }

    @Test func dataPacketsRoundTripAtEverySize() throws {
        for count in [0, 1, 65_535, 65_536, 200_000] {
            let data = (0..<count).map { UInt8(truncatingIfNeeded: $0 ^ 0x5A) }
            let packet = SFTPMessage.data(id: 77, data: data).encode()
            #expect(packet.count == SFTPMessage.dataPrefixLength + count)
            var framer = SFTPPacketFramer()
            framer.append(packet)
            #expect(try framer.nextPacket() == .data(id: 77, data: data))
        }
    }
}
