import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The network range a client address belongs to, as login limits and
/// refusal aggregation count it (the server) and as the audit report groups
/// refusal summaries (their `source` is such a range).
public enum SourceRange {
    /// The range `source` counts in: its IPv4 /`ipv4Prefix` or IPv6
    /// /`ipv6Prefix` (an IPv4-mapped IPv6 address counts as IPv4), written
    /// as `address/prefix`; anything that is not an address counts alone.
    public static func of(_ source: String, ipv4Prefix: Int = 24, ipv6Prefix: Int = 64) -> String {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, source, &v4) == 1 {
            return ipv4Range(withUnsafeBytes(of: v4) { Array($0) }, prefix: ipv4Prefix)
        }
        guard inet_pton(AF_INET6, source, &v6) == 1 else { return source }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            return ipv4Range(Array(bytes[12..<16]), prefix: ipv4Prefix)
        }
        let masked = mask(bytes, prefix: ipv6Prefix)
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var out = in6_addr()
        withUnsafeMutableBytes(of: &out) { $0.copyBytes(from: masked) }
        _ = inet_ntop(AF_INET6, &out, &text, socklen_t(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(min(max(ipv6Prefix, 0), 128))"
    }

    private static func ipv4Range(_ bytes: [UInt8], prefix: Int) -> String {
        mask(bytes, prefix: prefix).map(String.init).joined(separator: ".") + "/\(min(max(prefix, 0), 32))"
    }

    private static func mask(_ bytes: [UInt8], prefix: Int) -> [UInt8] {
        var bits = min(max(prefix, 0), bytes.count * 8)
        return bytes.map { byte in
            defer { bits = max(bits - 8, 0) }
            return bits >= 8 ? byte : byte & ~UInt8(truncatingIfNeeded: 0xff >> bits)
        }
    }
}
