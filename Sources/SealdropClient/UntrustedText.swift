import SealdropFormat

/// The one sanitiser for text that someone else chose (the drop box's
/// names, ids and messages, a sender's file name or note) on its way to a
/// terminal or a JSON document: control characters, Unicode format
/// characters (bidirectional overrides such as U+202E among them) and line
/// separators become visible `\u{...}` escapes, so such text can neither
/// move the cursor nor reorder or forge a line of ours. Invalid UTF-8 shows
/// as U+FFFD.
public enum UntrustedText {
    /// Longest server text shown (error messages, names): more is cut, marked "…".
    public static let maximumShownLength = 200

    public static func printable(_ text: String, limit: Int? = nil) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if let limit, count >= limit {
                out += "…"
                break
            }
            count += 1
            if TextSafety.isUnsafe(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Bytes from the drop box, decoded leniently, escaped and cut to the display limit.
    public static func fromServer(_ bytes: some Collection<UInt8>) -> String {
        printable(String(decoding: bytes.prefix(4 * maximumShownLength), as: UTF8.self), limit: maximumShownLength)
    }

    public static func fromServer(_ text: String) -> String {
        printable(String(text.unicodeScalars.prefix(4 * maximumShownLength)), limit: maximumShownLength)
    }
}
