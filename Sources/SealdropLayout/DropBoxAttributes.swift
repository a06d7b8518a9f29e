/// The drop box's own SFTP attribute extensions (draft-ietf-secsh-filexfer-02
/// §5, "extended" pairs). They are sent only to a client that asks for them
/// in its INIT, because some clients (libssh2 before 1.11) cannot skip
/// extended attributes they do not know.
public enum DropBoxAttributes {
    /// The INIT extension a client sends to ask for the attributes below;
    /// the server answers with the same pair in VERSION when it honours it.
    public static let initExtension = "attributes@sealdrop"
    public static let initExtensionVersion = "1"

    /// The vendor that sent a transfer (`/inbox`, `/sent`).
    public static let sender = "sender@sealdrop"
    /// The vendor a transfer is for (`/inbox`, `/sent`).
    public static let recipient = "recipient@sealdrop"
    /// The transfer's lifecycle state, e.g. `available`, `delivered`.
    public static let state = "state@sealdrop"
    /// When the transfer expires, Unix seconds in decimal.
    public static let expires = "expires@sealdrop"

    /// Longest value the server sends in one of these attributes: names are
    /// at most 63 bytes, states and times far shorter. A client refuses more.
    public static let maximumValueLength = 64

    /// Every lifecycle state a transfer can be in: the closed set a
    /// `state@sealdrop` value (or a listing's state column) must come from.
    public static let states: Set<String> = ["staged", "available", "claimed", "delivered", "expired", "revoked", "rejected"]

    /// Why `text` is not an `expires@sealdrop` value (1 to 12 decimal
    /// digits of Unix seconds, no sign, no spaces), or nil.
    public static func expiryProblem(_ text: some StringProtocol) -> String? {
        let bytes = Array(text.utf8)
        guard (1...12).contains(bytes.count), bytes.allSatisfy({ (48...57).contains($0) }) else {
            return "an expiry is 1 to 12 decimal digits of Unix seconds"
        }
        return nil
    }
}
