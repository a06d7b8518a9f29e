/// The one rule for vendor names, shared by the server (user names, outbox
/// folders, certificates) and the client (names a server lists): 1 to 63
/// characters from `a-z`, `0-9` and `-`, neither starting nor ending with
/// `-` (a DNS label's shape, so it is safe as a file name, a user name and
/// a command-line argument).
public enum VendorNameRule {
    public static let maximumLength = 63

    /// Why `text` breaks the rule, or nil if it follows it.
    public static func problem(with text: some StringProtocol) -> String? {
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
}
