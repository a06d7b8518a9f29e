import SealdropFormat
import SealdropSFTP
import Testing

/// SFTP v3 packets from byte vectors, whole and byte by byte.
@Suite struct SFTPCodecTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Known packets, laid out by hand from draft-02 (length, type, fields).
    static let vectors: [(String, SFTPMessage, String)] = [
        ("INIT v3, as OpenSSH's client sends it", .initialize(version: 3, extensions: []), "00000005 01 00000003"),
        (
            "VERSION with one extension", .version(version: 3, extensions: [SFTPExtensionPair(name: "fsync@openssh.com", data: "1")]),
            "0000001f 02 00000003 00000011 6673796e63406f70656e7373682e636f6d 00000001 31"
        ),
        (
            "OPEN for writing with empty ATTRS", .open(id: 1, path: bytes("/outbox/b/x"), flags: [.write, .create, .truncate], attributes: .empty),
            "0000001c 03 00000001 0000000b 2f6f7574626f782f622f78 0000001a 00000000"
        ),
        (
            "READ 32 KiB at offset 65536", .read(id: 7, handle: bytes("h1"), offset: 65_536, length: 32_768),
            "00000017 05 00000007 00000002 6831 0000000000010000 00008000"
        ),
        (
            "STATUS EOF with language tag", .status(id: 7, code: .eof, message: "EOF"),
            "00000016 65 00000007 00000001 00000003 454f46 00000002 656e"
        ),
        (
            "ATTRS with size and permissions",
            .attributes(id: 2, attributes: SFTPAttributes(size: 10, permissions: SFTPAttributes.regularFile | 0o600)),
            "00000015 69 00000002 00000005 000000000000000a 00008180"
        ),
        ("REALPATH .", .realpath(id: 3, path: bytes(".")), "0000000a 10 00000003 00000001 2e"),
        ("REMOVE", .remove(id: 4, path: bytes("/sent/a")), "00000010 0d 00000004 00000007 2f73656e742f61"),
    ]

    static func hex(_ text: String) -> [UInt8] { Hex.decode(text.replacingOccurrences(of: " ", with: ""))! }

    @Test func encodesAndDecodesTheVectors() throws {
        for (name, message, text) in Self.vectors {
            let packet = Self.hex(text)
            #expect(message.encode() == packet, "\(name)")
            #expect(try SFTPMessage.decode(packet.dropFirst(4)) == message, "\(name)")
        }
    }

    @Test func framerYieldsTheSamePacketsFedWholeOrByteByByte() throws {
        let stream = Self.vectors.flatMap { Self.hex($0.2) }
        var whole = SFTPPacketFramer()
        whole.append(stream)
        var fromWhole = [SFTPMessage]()
        while let message = try whole.nextPacket() { fromWhole.append(message) }
        #expect(fromWhole == Self.vectors.map(\.1))

        var trickle = SFTPPacketFramer()
        var fromBytes = [SFTPMessage]()
        for byte in stream {
            trickle.append([byte])
            while let message = try trickle.nextPacket() { fromBytes.append(message) }
        }
        #expect(fromBytes == fromWhole)
        #expect(trickle.bufferedCount == 0)
    }

    @Test func everyMessageTypeRoundTrips() throws {
        let attributes = SFTPAttributes(
            size: 1 << 40, userID: 1, groupID: 2, permissions: 0o100600, accessTime: 3, modificationTime: 4,
            extended: [(type: Self.bytes("x@y"), data: [1, 2])])
        let samples: [SFTPMessage] = [
            .initialize(version: 3, extensions: [SFTPExtensionPair(name: "a", data: "b")]),
            .open(id: 1, path: Self.bytes("/inbox/x.sealdrop"), flags: .read, attributes: attributes),
            .close(id: 2, handle: [0, 1]), .write(id: 3, handle: [9], offset: 1 << 33, data: Array(repeating: 7, count: 1000)),
            .lstat(id: 4, path: Self.bytes("/")), .fstat(id: 5, handle: [1]), .setstat(id: 6, path: Self.bytes("/a"), attributes: attributes),
            .fsetstat(id: 7, handle: [2], attributes: .empty), .opendir(id: 8, path: Self.bytes("/inbox")), .readdir(id: 9, handle: [3]),
            .mkdir(id: 10, path: Self.bytes("/x"), attributes: .empty), .rmdir(id: 11, path: Self.bytes("/x")),
            .stat(id: 12, path: Self.bytes("/sent")), .rename(id: 13, from: Self.bytes("/a"), to: Self.bytes("/b")),
            .readlink(id: 14, path: Self.bytes("/l")), .symlink(id: 15, linkPath: Self.bytes("/l"), targetPath: Self.bytes("/t")),
            .extended(id: 16, request: Self.bytes("statvfs@openssh.com"), data: [0, 0, 0, 1, 0x2f]),
            .version(version: 3, extensions: []), .handle(id: 17, handle: Self.bytes("h")), .data(id: 18, data: [1, 2, 3]),
            .name(id: 19, entries: [SFTPNameEntry(filename: Self.bytes("a.sealdrop"), longname: Self.bytes("-rw------- a"), attributes: attributes)]),
            .extendedReply(id: 20, data: [1, 2, 3, 4]),
        ]
        let covered = Set((samples + Self.vectors.map(\.1)).map(\.packetType.rawValue))
        #expect(covered == Set(SFTPMessage.PacketType.allCases.map(\.rawValue)), "every packet type is exercised")
        for sample in samples {
            let packet = sample.encode()
            #expect(try SFTPMessage.decode(packet.dropFirst(4)) == sample, "\(sample.packetType)")
            #expect(sample.packetType == .initialize || sample.packetType == .version || sample.requestID != nil)
        }
    }

    @Test func refusesOversizedPacketsBeforeBuffering() {
        var framer = SFTPPacketFramer()
        framer.append(Self.hex("00040001 03"))
        #expect(throws: SFTPError(.packetTooLarge, "")) { try framer.nextPacket() }
        var zero = SFTPPacketFramer()
        zero.append([0, 0, 0, 0])
        #expect(throws: SFTPError(.truncated, "")) { try zero.nextPacket() }
    }

    @Test func keepsTheRequestIDOfABadRequestSoItCanBeAnswered() {
        // OPEN id 9 whose path length runs past the end.
        do {
            _ = try SFTPMessage.decode(Self.hex("03 00000009 000000ff 2f").dropFirst(0))
            Issue.record("decoded a truncated OPEN")
        } catch {
            #expect(error.code == .truncated)
            #expect(error.requestID == 9)
        }
        do {
            _ = try SFTPMessage.decode(Self.hex("63 0000002a").dropFirst(0))
            Issue.record("decoded type 99")
        } catch {
            #expect(error.code == .unknownType)
            #expect(error.requestID == 42)
        }
        // A reply with bytes after its fields is refused; a request is not (below).
        #expect(throws: SFTPError(.trailingBytes, "")) { try SFTPMessage.decode(Self.hex("66 00000003 00000001 31 ff").dropFirst(0)) }
        #expect(throws: SFTPError(.fieldTooLong, "")) { try SFTPMessage.decode(Self.hex("10 00000003 00002000 2e").dropFirst(0)) }
        #expect(throws: SFTPError(.malformed, "")) { try SFTPMessage.decode(Self.hex("65 00000003 00000063 00000000 00000000").dropFirst(0)) }
    }

    @Test func bytesAfterARequestAreIgnoredAsOpenSSHDoes() throws {
        // WRITE id 7, handle "1", offset 0, data "ab", then 3 stray bytes.
        let write = try SFTPMessage.decode(Self.hex("06 00000007 00000001 31 0000000000000000 00000002 6162 ffffff").dropFirst(0))
        #expect(write == .write(id: 7, handle: Array("1".utf8), offset: 0, data: Array("ab".utf8)))
        let realpath = try SFTPMessage.decode(Self.hex("10 00000003 00000001 2e ff").dropFirst(0))
        #expect(realpath == .realpath(id: 3, path: Array(".".utf8)))
    }

    @Test func randomMutationsNeverTrapAndValidOnesRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        let originals = Self.vectors.map { Array(Self.hex($0.2).dropFirst(4)) }
        for _ in 0..<20_000 {
            var body = originals.randomElement(using: &generator)!
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                body[Int.random(in: 0..<body.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) { body = Array(body.prefix(Int.random(in: 0...body.count, using: &generator))) }
            if let message = try? SFTPMessage.decode(body[...]), message.packetType != .extended, message.packetType != .status {
                // A request may carry ignored bytes after its fields; what
                // was decoded must still encode to the bytes it came from.
                let encoded = Array(message.encode().dropFirst(4))
                #expect(message.packetType.isRequest ? Array(body.prefix(encoded.count)) == encoded : encoded == body)
            }
        }
    }
}
