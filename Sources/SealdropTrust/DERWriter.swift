import Foundation

/// A minimal DER writer for the revocation list, whose structure
/// (RFC 5280 §5) the certificate library does not provide.
struct DERWriter {
    private(set) var bytes: [UInt8] = []

    mutating func node(_ tag: UInt8, _ content: [UInt8]) {
        bytes.append(tag)
        bytes += ObjectIdentifierEncoding.length(content.count)
        bytes += content
    }

    mutating func constructed(_ tag: UInt8, _ body: (inout DERWriter) -> Void) {
        var inner = DERWriter()
        body(&inner)
        node(tag, inner.bytes)
    }

    mutating func raw(_ encoded: [UInt8]) {
        bytes += encoded
    }

    mutating func integer(_ value: UInt64) {
        var content = withUnsafeBytes(of: value.bigEndian, Array.init)
        while content.count > 1, content[0] == 0, content[1] < 0x80 { content.removeFirst() }
        if content[0] >= 0x80 { content.insert(0, at: 0) }
        node(DERTag.integer, content)
    }

    /// An INTEGER from unsigned big-endian bytes (a certificate serial).
    mutating func integer(unsignedBytes: [UInt8]) {
        var content = Array(unsignedBytes.drop { $0 == 0 })
        if content.isEmpty || content[0] >= 0x80 { content.insert(0, at: 0) }
        node(DERTag.integer, content)
    }

    /// UTCTime through 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 requires.
    mutating func time(_ date: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let year = parts.year!
        let rest = String(format: "%02d%02d%02d%02d%02dZ", parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
        if (1950...2049).contains(year) {
            node(DERTag.utcTime, Array((String(format: "%02d", year % 100) + rest).utf8))
        } else {
            node(DERTag.generalizedTime, Array((String(format: "%04d", year) + rest).utf8))
        }
    }
}

enum DERTag {
    static let integer: UInt8 = 0x02
    static let bitString: UInt8 = 0x03
    static let octetString: UInt8 = 0x04
    static let objectIdentifier: UInt8 = 0x06
    static let enumerated: UInt8 = 0x0a
    static let utcTime: UInt8 = 0x17
    static let generalizedTime: UInt8 = 0x18
    static let sequence: UInt8 = 0x30
    static let contextZero: UInt8 = 0xa0
}

/// Object identifiers the revocation list uses, as DER content bytes.
enum KnownOID {
    /// 1.3.101.112, RFC 8410.
    static let ed25519: [UInt8] = [0x2b, 0x65, 0x70]
    /// 2.5.29.20, RFC 5280 §5.2.3.
    static let crlNumber: [UInt8] = [0x55, 0x1d, 0x14]
    /// 2.5.29.21, RFC 5280 §5.3.1.
    static let reasonCode: [UInt8] = [0x55, 0x1d, 0x15]
}
