import Foundation

/// Strict standard Base64 (RFC 4648 §4) for key files and fingerprints.
public enum Base64 {
    public static func encode<C: Collection<UInt8>>(_ bytes: C, padded: Bool = true) -> String {
        let text = Data(bytes).base64EncodedString()
        return padded ? text : String(text.prefix { $0 != "=" })
    }

    /// Decodes Base64, ignoring line breaks; returns nil on any other stray character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let compact = text.filter { $0 != "\n" && $0 != "\r" }
        guard let data = Data(base64Encoded: String(compact)) else { return nil }
        return [UInt8](data)
    }
}
