/// A path in the tree a vendor sees, after normalisation. Every client path
/// goes through `VirtualPath.resolve`; nothing else touches client paths,
/// so no `..`, absolute path or odd byte can reach the file system.
public enum VirtualPath: Equatable, Sendable {
    case root
    case inbox
    case inboxFile(transferID: String)
    case outbox
    case outboxVendor(name: String)
    case outboxFile(vendor: String, name: String)
    case sent
    case sentFile(transferID: String)
    case directory
    case directoryFile(name: String)
    case receipts
    case receiptFile(transferID: String)
    case acknowledgment(transferID: String)
    case declaration(transferID: String)
    /// `/receipts/head`: the log's latest signed tree head, for every vendor's client to witness.
    case receiptHead
    /// `/receipts/consistency-N.json`: a head signed now and the RFC 9162
    /// consistency proof from the tree of size N to it.
    case receiptConsistency(from: Int)

    /// Longest path we resolve; real ones are under 100 bytes.
    public static let maximumLength = 1024
    public static let envelopeSuffix = ".sealdrop"
    public static let receiptSuffix = ".json"
    public static let acknowledgmentSuffix = ".ack"
    public static let declarationSuffix = ".declaration"
    public static let headFileName = "head"
    public static let consistencyPrefix = "consistency-"
    /// Files of `/directory`: the CA, the revocation list, `NAME.pem` per vendor.
    public static let caFileName = "ca.pem"
    public static let revocationListFileName = "revocations.crl"
    public static let certificateSuffix = ".pem"

    /// Resolves `raw` (relative paths against `/`, the only working
    /// directory) lexically: `.` and `..` are applied to the string, never
    /// to a file system, and `..` stops at the root.
    public static func resolve(_ raw: [UInt8]) -> VirtualPath? {
        guard raw.count <= maximumLength, !raw.contains(0), let text = String(validating: raw, as: UTF8.self) else { return nil }
        var parts = [Substring]()
        for part in text.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return classify(parts.map(String.init))
    }

    public static func classify(_ parts: [String]) -> VirtualPath? {
        switch parts.count {
        case 0: return .root
        case 1:
            switch parts[0] {
            case "inbox": return .inbox
            case "outbox": return .outbox
            case "sent": return .sent
            case "directory": return .directory
            case "receipts": return .receipts
            default: return nil
            }
        case 2:
            switch parts[0] {
            case "inbox": return transferID(parts[1]).map { .inboxFile(transferID: $0) }
            case "sent": return transferID(parts[1]).map { .sentFile(transferID: $0) }
            case "outbox": return .outboxVendor(name: parts[1])
            case "directory": return .directoryFile(name: parts[1])
            case "receipts":
                if parts[1] == headFileName { return .receiptHead }
                if let size = consistencySize(parts[1]) { return .receiptConsistency(from: size) }
                if let id = transferID(parts[1], suffix: acknowledgmentSuffix) { return .acknowledgment(transferID: id) }
                if let id = transferID(parts[1], suffix: declarationSuffix) { return .declaration(transferID: id) }
                return transferID(parts[1], suffix: receiptSuffix).map { .receiptFile(transferID: $0) }
            default: return nil
            }
        case 3:
            guard parts[0] == "outbox" else { return nil }
            return .outboxFile(vendor: parts[1], name: parts[2])
        default:
            return nil
        }
    }

    /// N of `consistency-N.json`: decimal, no leading zero, 1 to 2^53.
    static func consistencySize(_ name: String) -> Int? {
        guard name.hasPrefix(consistencyPrefix), name.hasSuffix(receiptSuffix) else { return nil }
        let digits = name.dropFirst(consistencyPrefix.count).dropLast(receiptSuffix.count)
        guard (1...16).contains(digits.count), digits.first != "0", digits.allSatisfy({ $0 >= "0" && $0 <= "9" }), let size = Int(digits),
            size <= 1 << 53
        else { return nil }
        return size
    }

    /// `ID.sealdrop` (or `ID` + `suffix`) with ID 32 lower-case hex digits, or nil.
    public static func transferID(_ name: String, suffix: String = envelopeSuffix) -> String? {
        TransferID.parse(fileName: name, suffix: suffix)
    }

    /// The canonical absolute path, as REALPATH answers.
    public var canonical: String {
        switch self {
        case .root: "/"
        case .inbox: "/inbox"
        case .inboxFile(let id): "/inbox/\(id)\(Self.envelopeSuffix)"
        case .outbox: "/outbox"
        case .outboxVendor(let name): "/outbox/\(name)"
        case .outboxFile(let vendor, let name): "/outbox/\(vendor)/\(name)"
        case .sent: "/sent"
        case .sentFile(let id): "/sent/\(id)\(Self.envelopeSuffix)"
        case .directory: "/directory"
        case .directoryFile(let name): "/directory/\(name)"
        case .receipts: "/receipts"
        case .receiptFile(let id): "/receipts/\(id)\(Self.receiptSuffix)"
        case .acknowledgment(let id): "/receipts/\(id)\(Self.acknowledgmentSuffix)"
        case .declaration(let id): "/receipts/\(id)\(Self.declarationSuffix)"
        case .receiptHead: "/receipts/\(Self.headFileName)"
        case .receiptConsistency(let size): "/receipts/\(Self.consistencyPrefix)\(size)\(Self.receiptSuffix)"
        }
    }

    public var isDirectory: Bool {
        switch self {
        case .root, .inbox, .outbox, .outboxVendor, .sent, .directory, .receipts: true
        default: false
        }
    }
}
