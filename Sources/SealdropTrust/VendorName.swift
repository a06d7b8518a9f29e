import SealdropLayout

/// A vendor's name: what people type (`--to acme-lis`), what certificates
/// bind to a key, and the SSH user name. One rule, checked everywhere a
/// name is read: 1 to 63 characters from `a-z`, `0-9` and `-`, neither
/// starting nor ending with `-` (a DNS label's shape, so it is safe as a
/// file name, a user name and a command-line argument).
public struct VendorName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maximumLength = VendorNameRule.maximumLength

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
        VendorNameRule.problem(with: text)
    }

    public var description: String { value }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    static func printable(_ text: String) -> String {
        String(text.unicodeScalars.prefix(80).map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }
}
