import SealdropFormat

/// A PROXY protocol version 2 header (HAProxy's "PROXY protocol" text,
/// section 2.2): what a TCP balancer writes before the client's own bytes
/// so the server behind it learns the client's address. Bytes in, values
/// out: no I/O.
///
/// Layout: a 12-byte signature, one byte version (high nibble, 2) and
/// command (low nibble: 0 LOCAL, 1 PROXY), one byte address family (high
/// nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and transport (low nibble),
/// a 2-byte big-endian length of what follows, the addresses, then
/// type-length-value extensions.
///
/// `decode` then `encode` reproduces the input byte for byte: a LOCAL or
/// UNSPEC header's body is kept as `ignoredBody`, unknown extensions as
/// raw `extensions`.
public struct ProxyHeader: Equatable, Sendable {
    public enum Command: UInt8, Sendable {
        /// The balancer speaking for itself (health checks): use the real
        /// connection's endpoints and ignore the body.
        case local = 0
        /// A relayed client connection: the addresses are the client's.
        case proxy = 1
    }

    public let command: Command
    /// The family and transport byte as received (kept for `encode`).
    public let familyByte: UInt8
    public let addresses: ProxyAddresses
    public let extensions: [ProxyExtension]
    /// The body of a LOCAL header, or of a PROXY header with family UNSPEC,
    /// which the protocol says the receiver skips unread.
    public let ignoredBody: [UInt8]

    /// The 12 bytes every version 2 header starts with; chosen by the
    /// protocol so that it can never be the start of an SSH banner or any
    /// other common protocol's first bytes.
    public static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// Signature, version and command, family, length: what a reader takes
    /// first to learn how much more to read.
    public static let fixedLength = 16
    /// The longest body accepted. The protocol lets a body run to 65,535
    /// bytes; the largest address block is 216 bytes (two UNIX paths) and
    /// HAProxy, as configured in ops/haproxy.cfg, sends no extensions, so
    /// 2 KiB leaves room for TLS or unique-id extensions a balancer might
    /// add while keeping what an unauthenticated peer can make us buffer small.
    public static let maximumBodyLength = 2048

    public init(command: Command, familyByte: UInt8, addresses: ProxyAddresses, extensions: [ProxyExtension] = [], ignoredBody: [UInt8] = []) {
        self.command = command
        self.familyByte = familyByte
        self.addresses = addresses
        self.extensions = extensions
        self.ignoredBody = ignoredBody
    }

    /// A PROXY header for a TCP connection from `source` to `destination`.
    public static func proxy(source: ProxyEndpoint, destination: ProxyEndpoint) throws(ProxyHeaderError) -> ProxyHeader {
        switch (source.address.count, destination.address.count) {
        case (4, 4): return ProxyHeader(command: .proxy, familyByte: 0x11, addresses: .inet(source: source, destination: destination))
        case (16, 16): return ProxyHeader(command: .proxy, familyByte: 0x21, addresses: .inet6(source: source, destination: destination))
        default: throw ProxyHeaderError(.badAddress, "source and destination must both be IPv4 or both IPv6")
        }
    }

    /// A LOCAL header with no address, as a balancer's health check sends.
    public static let local = ProxyHeader(command: .local, familyByte: 0x00, addresses: .unspecified)

    /// The client's address as text (`203.0.113.7`, `2001:db8::1`) when the
    /// header relays a TCP connection; nil for LOCAL, UNSPEC and UNIX,
    /// where the real connection's address stands.
    public var clientAddress: String? {
        guard command == .proxy else { return nil }
        switch addresses {
        case .inet(let source, _), .inet6(let source, _): return source.text
        case .unspecified, .unix: return nil
        }
    }

    /// Checks the 16 fixed bytes and returns how many body bytes follow.
    /// Reading a header from a socket is: 16 bytes, this, then exactly that many.
    public static func bodyLength(fixedPart bytes: ArraySlice<UInt8>) throws(ProxyHeaderError) -> Int {
        guard bytes.count >= fixedLength else { throw ProxyHeaderError(.truncated, "a PROXY header needs \(fixedLength) bytes before its body") }
        let start = bytes.startIndex
        guard bytes[start..<start + signature.count].elementsEqual(signature) else {
            if bytes.starts(with: Array("PROXY ".utf8)) {
                throw ProxyHeaderError(.badSignature, "the balancer sent a version 1 (text) PROXY header; configure it with send-proxy-v2")
            }
            throw ProxyHeaderError(.badSignature, "the connection did not start with a PROXY protocol version 2 header")
        }
        let versionCommand = bytes[start + 12]
        guard versionCommand >> 4 == 2 else { throw ProxyHeaderError(.badVersion, "PROXY protocol version \(versionCommand >> 4) is not supported (only 2)") }
        guard Command(rawValue: versionCommand & 0x0F) != nil else {
            throw ProxyHeaderError(.badCommand, "unknown PROXY command \(versionCommand & 0x0F)")
        }
        let length = Int(bytes[start + 14]) << 8 | Int(bytes[start + 15])
        guard length <= maximumBodyLength else {
            throw ProxyHeaderError(.tooLong, "a PROXY header announced a \(length)-byte body; at most \(maximumBodyLength) is accepted")
        }
        return length
    }

    /// Decodes exactly one whole header: `bytes` must be the 16 fixed bytes
    /// and the body they announce, nothing more.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(ProxyHeaderError) -> ProxyHeader {
        let length = try bodyLength(fixedPart: bytes)
        guard bytes.count == fixedLength + length else {
            throw ProxyHeaderError(
                bytes.count < fixedLength + length ? .truncated : .trailingBytes,
                "a PROXY header announced \(length) body bytes but \(bytes.count - fixedLength) were given")
        }
        let start = bytes.startIndex
        let command = Command(rawValue: bytes[start + 12] & 0x0F)!
        let familyByte = bytes[start + 13]
        let body = Array(bytes[(start + fixedLength)...])
        if command == .local {
            // The protocol: "the receiver must ... discard the protocol block including the family".
            return ProxyHeader(command: .local, familyByte: familyByte, addresses: .unspecified, ignoredBody: body)
        }
        let addressLength: Int
        switch familyByte >> 4 {
        case 0: return ProxyHeader(command: .proxy, familyByte: familyByte, addresses: .unspecified, ignoredBody: body)
        case 1: addressLength = 12
        case 2: addressLength = 36
        case 3: addressLength = 216
        default: throw ProxyHeaderError(.badFamily, "unknown PROXY address family \(familyByte >> 4)")
        }
        guard familyByte & 0x0F <= 2 else { throw ProxyHeaderError(.badFamily, "unknown PROXY transport \(familyByte & 0x0F)") }
        guard body.count >= addressLength else {
            throw ProxyHeaderError(.badAddress, "a PROXY header's \(body.count)-byte body cannot hold its \(addressLength)-byte addresses")
        }
        let addresses: ProxyAddresses
        switch addressLength {
        case 12:
            addresses = .inet(
                source: ProxyEndpoint(address: Array(body[0..<4]), port: port(body, 8)),
                destination: ProxyEndpoint(address: Array(body[4..<8]), port: port(body, 10)))
        case 36:
            addresses = .inet6(
                source: ProxyEndpoint(address: Array(body[0..<16]), port: port(body, 32)),
                destination: ProxyEndpoint(address: Array(body[16..<32]), port: port(body, 34)))
        default:
            addresses = .unix(source: Array(body[0..<108]), destination: Array(body[108..<216]))
        }
        let extensions = try ProxyExtension.decodeAll(body[addressLength...])
        return ProxyHeader(command: .proxy, familyByte: familyByte, addresses: addresses, extensions: extensions)
    }

    public static func decode(_ bytes: [UInt8]) throws(ProxyHeaderError) -> ProxyHeader {
        try decode(bytes[...])
    }

    /// The header's bytes.
    public func encode() -> [UInt8] {
        var body: [UInt8]
        switch addresses {
        case .unspecified: body = ignoredBody
        case .inet(let source, let destination), .inet6(let source, let destination):
            body = source.address + destination.address + Self.bytes(of: source.port) + Self.bytes(of: destination.port)
        case .unix(let source, let destination): body = source + destination
        }
        for item in extensions { body += [item.type] + Self.bytes(of: UInt16(item.value.count)) + item.value }
        return Self.signature + [0x20 | command.rawValue, familyByte] + Self.bytes(of: UInt16(body.count)) + body
    }

    private static func port(_ body: [UInt8], _ at: Int) -> UInt16 { UInt16(body[at]) << 8 | UInt16(body[at + 1]) }
    private static func bytes(of value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
}

/// The addresses a PROXY header carries.
public enum ProxyAddresses: Equatable, Sendable {
    /// None (LOCAL, or family UNSPEC): the real connection's endpoints stand.
    case unspecified
    case inet(source: ProxyEndpoint, destination: ProxyEndpoint)
    case inet6(source: ProxyEndpoint, destination: ProxyEndpoint)
    /// Two 108-byte socket paths, kept as received.
    case unix(source: [UInt8], destination: [UInt8])
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address and a port.
public struct ProxyEndpoint: Equatable, Sendable {
    public let address: [UInt8]
    public let port: UInt16

    public init(address: [UInt8], port: UInt16) {
        self.address = address
        self.port = port
    }

    /// The address as text, written as `getnameinfo(NI_NUMERICHOST)` writes
    /// it (RFC 5952 for IPv6), so a relayed client and a direct one from the
    /// same address count as the same source in limits and the log.
    public var text: String {
        address.count == 4 ? address.map(String.init).joined(separator: ".") : Self.ipv6Text(address)
    }

    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        // IPv4-mapped (::ffff:a.b.c.d) is written with the IPv4 tail.
        if groups[0..<5].allSatisfy({ $0 == 0 }), groups[5] == 0xFFFF {
            return "::ffff:" + bytes[12..<16].map(String.init).joined(separator: ".")
        }
        // RFC 5952 §4.2: the longest run of two or more zero groups (the
        // first of equal runs) becomes "::".
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > best.length, end - index >= 2 { best = (index, end - index) }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        let head = hex[0..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}

/// One type-length-value extension after the addresses (ALPN, authority,
/// CRC, unique id, TLS details...): kept as received, never acted on.
public struct ProxyExtension: Equatable, Sendable {
    public let type: UInt8
    public let value: [UInt8]

    public init(type: UInt8, value: [UInt8]) {
        self.type = type
        self.value = value
    }

    /// Every extension in `bytes`, which they must fill exactly.
    static func decodeAll(_ bytes: ArraySlice<UInt8>) throws(ProxyHeaderError) -> [ProxyExtension] {
        var found = [ProxyExtension]()
        var at = bytes.startIndex
        while at < bytes.endIndex {
            guard bytes.endIndex - at >= 3 else { throw ProxyHeaderError(.badExtension, "a PROXY header ends inside an extension's type and length") }
            let length = Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
            guard bytes.endIndex - at - 3 >= length else {
                throw ProxyHeaderError(.badExtension, "a PROXY header extension announces \(length) bytes past the header's end")
            }
            found.append(ProxyExtension(type: bytes[at], value: Array(bytes[(at + 3)..<(at + 3 + length)])))
            at += 3 + length
        }
        return found
    }
}

/// Why a PROXY header was refused. Codes are stable.
public struct ProxyHeaderError: CodedError, Sendable {
    public enum Code: String, Sendable {
        /// Not a version 2 header at all (plain SSH, or version 1 text).
        case badSignature = "bad-signature"
        case badVersion = "bad-version"
        case badCommand = "bad-command"
        case badFamily = "bad-family"
        /// The body is too short for its family's addresses, or an address has the wrong size.
        case badAddress = "bad-address"
        case badExtension = "bad-extension"
        /// Fewer bytes than the header announces.
        case truncated = "truncated"
        /// More bytes than the header announces, given to `decode`.
        case trailingBytes = "trailing-bytes"
        /// A body longer than `ProxyHeader.maximumBodyLength`.
        case tooLong = "too-long"
        /// The peer sent nothing, or not all of it, before the deadline.
        case timedOut = "timed-out"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
