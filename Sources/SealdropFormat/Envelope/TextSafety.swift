/// Characters that must not reach a terminal from text someone else chose
/// (a sender's file name or note): they can move the cursor, recolour,
/// or reorder what is shown, and so forge lines such as "verified: ...".
public enum TextSafety {
    /// C0 and C1 controls, DEL, Unicode format characters (bidirectional
    /// overrides among them) and the line and paragraph separators.
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) { return true }
        switch scalar.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}
