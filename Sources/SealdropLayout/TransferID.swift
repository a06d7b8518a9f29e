/// A transfer id as it appears in paths: 32 lower-case hexadecimal digits
/// (the envelope's 16 random bytes). Server and client apply this one rule,
/// so an id a server sends can never be a path, a flag or a control sequence.
public enum TransferID {
    public static let length = 32

    /// True when `text` is exactly 32 lower-case hexadecimal digits.
    public static func isValid(_ text: some StringProtocol) -> Bool {
        text.utf8.count == length && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The id in `name` when it is `ID` + `suffix`, or nil.
    public static func parse(fileName name: String, suffix: String) -> String? {
        guard name.hasSuffix(suffix) else { return nil }
        let id = String(name.dropLast(suffix.count))
        return isValid(id) ? id : nil
    }
}
