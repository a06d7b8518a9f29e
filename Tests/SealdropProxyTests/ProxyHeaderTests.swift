import SealdropProxy
import Testing

/// PROXY protocol v2 headers from byte vectors: what HAProxy sends, and
/// each way a header can be wrong, mapped to one error code.
@Suite struct ProxyHeaderTests {
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// A header from its version/command and family bytes and its body.
    static func header(_ versionCommand: UInt8, _ family: UInt8, _ body: [UInt8], announcing length: Int? = nil) -> [UInt8] {
        let length = length ?? body.count
        return signature + [versionCommand, family, UInt8(length >> 8), UInt8(length & 0xFF)] + body
    }

    /// 203.0.113.7:5555 → 127.0.0.1:2222, as HAProxy's send-proxy-v2 writes it.
    static let ipv4Body: [UInt8] = [203, 0, 113, 7, 127, 0, 0, 1, 0x15, 0xB3, 0x08, 0xAE]

    @Test func anIPv4ConnectionGivesTheClientsAddress() throws {
        let bytes = Self.header(0x21, 0x11, Self.ipv4Body)
        let header = try ProxyHeader.decode(bytes)
        #expect(header.command == .proxy)
        #expect(header.clientAddress == "203.0.113.7")
        #expect(
            header.addresses
                == .inet(source: ProxyEndpoint(address: [203, 0, 113, 7], port: 5555), destination: ProxyEndpoint(address: [127, 0, 0, 1], port: 2222)))
        #expect(header.encode() == bytes)
        #expect(try ProxyHeader.bodyLength(fixedPart: bytes[0..<16]) == 12)
    }

    @Test func anIPv6ConnectionGivesTheClientsAddress() throws {
        let source: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [7]
        let destination = [UInt8](repeating: 0, count: 15) + [1]
        let bytes = Self.header(0x21, 0x21, source + destination + [0x9C, 0x40, 0x08, 0xAE])
        let header = try ProxyHeader.decode(bytes)
        #expect(header.clientAddress == "2001:db8::7")
        #expect(header.encode() == bytes)
        let built = try ProxyHeader.proxy(source: ProxyEndpoint(address: source, port: 40000), destination: ProxyEndpoint(address: destination, port: 2222))
        #expect(built.encode() == bytes)
    }

    @Test(
        arguments: [
            ([0, 0, 0, 0, 0, 0, 0, 1], "::1"),
            ([0, 0, 0, 0, 0, 0, 0, 0], "::"),
            ([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], "2001:db8:0:1:1:1:1:1"),
            ([1, 0, 0, 1, 0, 0, 0, 1], "1:0:0:1::1"),
            ([1, 0, 0, 2, 3, 0, 0, 4], "1::2:3:0:0:4"),
            ([0xfe80, 0, 0, 0, 0xabcd, 0, 0, 0], "fe80::abcd:0:0:0"),
            ([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201], "::ffff:192.0.2.1"),
        ] as [([UInt16], String)])
    func ipv6AddressesAreWrittenAsRFC5952Says(_ groups: [UInt16], _ text: String) {
        let bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        #expect(ProxyEndpoint(address: bytes, port: 0).text == text)
    }

    @Test func aHealthCheckIsLocalWithNoClientAddress() throws {
        let bytes = Self.header(0x20, 0x00, [])
        let header = try ProxyHeader.decode(bytes)
        #expect(header == .local)
        #expect(header.clientAddress == nil)
        #expect(ProxyHeader.local.encode() == bytes)
        // A LOCAL body, whatever its family says, is skipped unread.
        let withBody = Self.header(0x20, 0x11, [1, 2, 3])
        #expect(try ProxyHeader.decode(withBody).clientAddress == nil)
        #expect(try ProxyHeader.decode(withBody).encode() == withBody)
    }

    @Test func unspecifiedAndUnixFamiliesLeaveTheRealPeer() throws {
        #expect(try ProxyHeader.decode(Self.header(0x21, 0x00, [9, 9])).clientAddress == nil)
        let unix = Self.header(0x21, 0x31, [UInt8](repeating: 0x2F, count: 216))
        #expect(try ProxyHeader.decode(unix).clientAddress == nil)
        #expect(try ProxyHeader.decode(unix).encode() == unix)
    }

    @Test func extensionsAreKeptAndReencoded() throws {
        let extensions: [UInt8] = [0x05, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64, 0x04, 0x00, 0x00]
        let bytes = Self.header(0x21, 0x11, Self.ipv4Body + extensions)
        let header = try ProxyHeader.decode(bytes)
        #expect(header.extensions == [ProxyExtension(type: 5, value: Array("abcd".utf8)), ProxyExtension(type: 4, value: [])])
        #expect(header.clientAddress == "203.0.113.7")
        #expect(header.encode() == bytes)
    }

    @Test(
        arguments: [
            ("ssh-banner", Array("SSH-2.0-OpenSSH_9.2p1\r\n".utf8), ProxyHeaderError.Code.badSignature),
            ("version-1-text", Array("PROXY TCP4 203.0.113.7 127.0.0.1 5555 2222\r\n".utf8), .badSignature),
            ("signature-one-byte-off", [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B, 0x21, 0x11, 0, 0], .badSignature),
            ("version-1-binary", header(0x11, 0x11, ipv4Body), .badVersion),
            ("version-3", header(0x31, 0x11, ipv4Body), .badVersion),
            ("command-2", header(0x22, 0x11, ipv4Body), .badCommand),
            ("family-4", header(0x21, 0x41, ipv4Body), .badFamily),
            ("transport-3", header(0x21, 0x13, ipv4Body), .badFamily),
            ("ipv4-body-too-short", header(0x21, 0x11, Array(ipv4Body.prefix(8))), .badAddress),
            ("ipv6-with-ipv4-body", header(0x21, 0x21, ipv4Body), .badAddress),
            ("extension-past-the-end", header(0x21, 0x11, ipv4Body + [0x05, 0x00, 0x09, 1, 2]), .badExtension),
            ("extension-cut-in-its-length", header(0x21, 0x11, ipv4Body + [0x05, 0x00]), .badExtension),
            ("fewer-bytes-than-announced", header(0x21, 0x11, Array(ipv4Body.prefix(5)), announcing: 12), .truncated),
            ("only-the-signature", signature, .truncated),
            ("nothing", [], .truncated),
            ("more-bytes-than-announced", header(0x21, 0x11, ipv4Body + [0x53], announcing: 12), .trailingBytes),
            ("body-over-the-limit", header(0x21, 0x11, [], announcing: ProxyHeader.maximumBodyLength + 1), .tooLong),
            ("body-of-65535", header(0x21, 0x11, [], announcing: 65535), .tooLong),
        ] as [(String, [UInt8], ProxyHeaderError.Code)])
    func malformedHeadersAreRefused(_ name: String, _ bytes: [UInt8], _ expected: ProxyHeaderError.Code) {
        do {
            let header = try ProxyHeader.decode(bytes)
            Issue.record("\(name) decoded: \(header)")
        } catch {
            #expect(error.code == expected, "\(name): \(error)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func aVersion1HeaderSaysHowToConfigureTheBalancer() {
        do {
            _ = try ProxyHeader.bodyLength(fixedPart: Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8)[...])
            Issue.record("a version 1 header was taken for version 2")
        } catch {
            #expect(error.code == .badSignature)
            #expect(error.message.contains("send-proxy-v2"))
        }
    }

    @Test func mixedAddressFamiliesCannotBeBuilt() {
        #expect(throws: ProxyHeaderError(.badAddress, "")) {
            try ProxyHeader.proxy(
                source: ProxyEndpoint(address: [1, 2, 3, 4], port: 1), destination: ProxyEndpoint(address: [UInt8](repeating: 0, count: 16), port: 2))
        }
    }

    /// Each vector's every prefix either fails as truncated or, for the
    /// whole header, decodes: no prefix decodes to something else.
    @Test func everyPrefixOfAHeaderIsTruncated() throws {
        let bytes = Self.header(0x21, 0x11, Self.ipv4Body + [0x04, 0x00, 0x01, 0x00])
        for end in 0..<bytes.count {
            #expect(throws: ProxyHeaderError(.truncated, "")) { try ProxyHeader.decode(bytes[0..<end]) }
        }
        #expect(try ProxyHeader.decode(bytes).clientAddress == "203.0.113.7")
    }
}
