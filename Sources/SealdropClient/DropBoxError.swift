import SealdropFormat

/// The drop box answered something the client will not use, or refused.
/// Everything a server says is untrusted input: a name, id, attribute,
/// size or file that breaks the rules the server itself must follow is
/// refused with one of these, naming the drop box as the source, and is
/// never turned into a path, a lookup or a line on the terminal.
public struct DropBoxError: CodedError, Sendable {
    public enum Code: String, Sendable, CaseIterable {
        /// The drop box refused a request (its own message, sanitised).
        case refused = "refused"
        /// Nothing by that id waits for this vendor.
        case notFound = "not-found"
        /// A name or id in a listing, or a value in an attribute, breaks the rules.
        case invalidName = "invalid-name"
        /// An attribute the drop box promised (it echoed the INIT extension) is missing.
        case missingAttribute = "missing-attribute"
        /// A listing, name, attribute, message or file exceeds its limit.
        case tooLarge = "too-large"
        /// A reply that SFTP v3 or the drop box's contract does not allow.
        case protocolViolation = "protocol-violation"
        /// The envelope served is not the transfer asked for, or not for this vendor.
        case wrongEnvelope = "wrong-envelope"
        /// The envelope is one this profile has already received.
        case replayed = "replayed"
        /// A receipt that does not verify against the pinned CA.
        case badReceipt = "bad-receipt"
        /// A local file of the profile (the received-transfers journal) is unusable.
        case localState = "local-state"
        /// The drop box's receipt log does not extend the head this profile saw: a split view or a rewritten log.
        case forkedLog = "forked-log"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
