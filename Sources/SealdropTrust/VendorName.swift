/// A vendor's name: what people type (`--to acme-lis`), what certificates
/// bind to a key, and the SSH user name. One rule, checked everywhere a
/// name is read: 1 to 63 characters from `a-z`, `0-9` and `-`, neither
/// starting nor ending with `-` (a DNS label's shape, so it is safe as a
/// file name, a user name and a command-line argument).
public struct VendorName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maximumLength = 63

    public let value: String

    public init(_ text: String) throws(TrustError) {
        guard let reason = Self.problem(with: text) else {
            value = text
            return
        }
        throw TrustError(.badName, "\"\(Self.printable(text))\" is not a valid vendor name: \(reason)")
    }

    /// Why `text` breaks the rule, or nil if it follows it.
    public static func problem(with text: String) -> String? {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > maximumLength { return "it is longer than \(maximumLength) characters" }
        let allowed = bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-")
        }
        if !allowed { return "only lower-case letters, digits and hyphens are allowed" }
        if bytes.first == UInt8(ascii: "-") || bytes.last == UInt8(ascii: "-") { return "it must not start or end with a hyphen" }
        return nil
    }

    public var description: String { value }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    static func printable(_ text: String) -> String {
        String(text.unicodeScalars.prefix(80).map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }
}
