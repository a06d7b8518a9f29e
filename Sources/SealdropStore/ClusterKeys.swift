/// The fingerprints of the two keys every node of one drop box must share:
/// the SSH host key vendors pin and the receipt key that signs the log.
/// The first node to start records them in the store; a node with other
/// keys refuses to start (vendors would see a host key change, or the log
/// would carry heads signed by two keys).
public struct ClusterKeys: Equatable, Sendable {
    /// `SHA256:...`, as OpenSSH prints it.
    public let hostKey: String
    /// `SHA256:...` of the receipt-signing Ed25519 key.
    public let receiptKey: String

    public init(hostKey: String, receiptKey: String) {
        self.hostKey = hostKey
        self.receiptKey = receiptKey
    }
}
