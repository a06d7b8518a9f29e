import Foundation
import SealdropFormat

/// One event of the receipt log, and the one codec for its bytes.
///
/// The bytes are compact JSON with sorted keys (spec §1). `encoded()` writes
/// them byte for byte as the log has always held them (the same escaping as
/// Foundation's `JSONSerialization`, so entries written before this codec
/// existed decode and re-encode identically); `init(decoding:)` accepts only
/// what `encoded()` could have written: an unknown kind or key, a missing
/// field, a wrong type or a non-canonical spelling is an error, never a
/// guess.
public struct LogEntry: Equatable, Sendable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case loginAccepted = "login-accepted"
        case loginRefused = "login-refused"
        case uploadPublished = "upload-published"
        case uploadRejected = "upload-rejected"
        case claimed
        case released
        case delivered
        case deleted
        case expired
        case revoked
        case acknowledged
        case declared
        /// A request refused because it touched what is not the vendor's
        /// (another vendor's transfer, outbox or receipt).
        case refusedAuthorization = "refused-authorization"
        /// An operation the drop box never allows (rename, mkdir, shell...).
        case refusedOperation = "refused-operation"
        /// A download claim refused (held by another session, expired, gone).
        case refusedClaim = "refused-claim"
        /// An open refused by a limit: quota, pending cap, unknown outbox, handle caps.
        case refusedOpen = "refused-open"
        /// A connection or session refused by a limit: server full, per-vendor
        /// sessions, logins in progress, failed-login rate, server stopping.
        case refusedSession = "refused-session"
        /// A session the server ended: certificate revoked or expired, maximum lifetime.
        case sessionClosed = "session-closed"
        /// A blob no pending transfer names, removed by the start-up or periodic sweep.
        case orphanRemoved = "orphan-removed"

        /// The kinds that end a transfer's life (its file must then go).
        public var endsTransfer: Bool { self == .delivered || self == .expired || self == .revoked }
    }

    /// 1, 2, 3… in log order.
    public var sequence: Int64
    /// Unix milliseconds.
    public var time: Int64
    public var kind: Kind
    /// The vendor (or the name a refused login offered), or `server`.
    public var actor: String
    /// The client's IP address, or empty.
    public var source: String
    /// The 32-hex-digit transfer id, when the event concerns one.
    public var transfer: String?
    /// For `upload-published`: the vendor the transfer is for.
    public var recipient: String?
    /// Ciphertext bytes, when known.
    public var size: UInt64?
    /// Hex SHA-256 of the whole envelope, when known.
    public var sha256: String?
    /// For `upload-published`: Unix milliseconds of the expiry.
    public var expires: Int64?
    /// For an aggregated refusal: how many refusals this one entry stands for.
    public var count: Int64?
    /// A reason, or the JSON of a signed statement.
    public var detail: String

    public init(
        sequence: Int64, time: Int64, kind: Kind, actor: String, source: String = "", transfer: String? = nil, recipient: String? = nil,
        size: UInt64? = nil, sha256: String? = nil, expires: Int64? = nil, count: Int64? = nil, detail: String = ""
    ) {
        self.sequence = sequence
        self.time = time
        self.kind = kind
        self.actor = actor
        self.source = source
        self.transfer = transfer
        self.recipient = recipient
        self.size = size
        self.sha256 = sha256
        self.expires = expires
        self.count = count
        self.detail = detail
    }

    /// Unix milliseconds of `date`, as entries hold times.
    public static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(time) / 1000) }

    /// The bytes of this entry in the log.
    public func encoded() -> [UInt8] {
        // Keys in sorted order, as the spec fixes them.
        var fields: [(String, Value)] = [("actor", .string(actor))]
        if let count { fields.append(("count", .integer(String(count)))) }
        fields.append(("detail", .string(detail)))
        if let expires { fields.append(("expires", .integer(String(expires)))) }
        fields.append(("kind", .string(kind.rawValue)))
        if let recipient { fields.append(("recipient", .string(recipient))) }
        fields.append(("sequence", .integer(String(sequence))))
        if let sha256 { fields.append(("sha256", .string(sha256))) }
        if let size { fields.append(("size", .integer(String(size)))) }
        fields.append(("source", .string(source)))
        fields.append(("time", .integer(String(time))))
        if let transfer { fields.append(("transfer", .string(transfer))) }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(UInt8(ascii: "{"))
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            Self.appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .string(let text): Self.appendString(text, to: &out)
            case .integer(let digits): out += Array(digits.utf8)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private enum Value {
        case string(String)
        case integer(String)
    }

    /// JSON string escaping as the log has always written it: `"`, `\` and
    /// `/` escaped, the short escapes for \b \f \n \r \t, `\u00xx` for the
    /// other control characters, everything else as UTF-8.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Text with nothing to escape (nearly all) is copied whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x2F }) {
            out += text.utf8
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case UInt8(ascii: "/"): out += [0x5C, 0x2F]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The fields as JSON holds them, typed strictly by `JSONDecoder` (which,
    /// unlike `JSONSerialization` on Linux, never takes `true` for 1).
    private struct Fields: Decodable {
        var sequence: Int64?
        var time: Int64?
        var kind: String?
        var actor: String?
        var source: String?
        var transfer: String?
        var recipient: String?
        var size: UInt64?
        var sha256: String?
        var expires: Int64?
        var count: Int64?
        var detail: String?
    }

    static let fieldNames: Set<String> = [
        "actor", "count", "detail", "expires", "kind", "recipient", "sequence", "sha256", "size", "source", "time", "transfer",
    ]

    /// Decodes an entry's bytes; anything `encoded()` would not write is an error.
    public init(decoding bytes: [UInt8]) throws(LogEntryError) {
        // Canonical entries (all of a sound log) take a direct scan; whatever
        // it does not take goes through the general path below, which names
        // the error. Both end in the same checks and the same re-encoding test.
        if let entry = Self.scanCanonical(bytes) {
            self = entry
        } else {
            self = try Self.decodeGeneral(bytes)
        }
        if let transfer, !Self.isLowercaseHex(transfer, digits: 32) {
            throw LogEntryError(.invalidField, "the transfer id \"\(transfer)\" is not 32 lowercase hexadecimal digits")
        }
        if let sha256, !Self.isLowercaseHex(sha256, digits: 64) {
            throw LogEntryError(.invalidField, "the envelope hash is not 64 lowercase hexadecimal digits")
        }
        if sequence < 1 { throw LogEntryError(.invalidField, "the sequence number \(sequence) is not positive") }
        if let count, count < 1 { throw LogEntryError(.invalidField, "the refusal count \(count) is not positive") }
        guard encoded() == bytes else {
            throw LogEntryError(.notCanonical, "the entry is not in canonical form (sorted keys, no spaces, the spec's escaping)")
        }
    }

    static func isLowercaseHex(_ text: String, digits: Int) -> Bool {
        text.utf8.count == digits && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The entry if `bytes` is a flat object of known keys with string and
    /// integer values in the spec's spelling, else nil (never an error).
    static func scanCanonical(_ bytes: [UInt8]) -> LogEntry? {
        var index = 0
        func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        func string() -> String? {
            guard take(0x22) else { return nil }
            // Most strings hold nothing escaped: one pass finds their end.
            var end = index
            while end < bytes.count, bytes[end] != 0x22, bytes[end] != 0x5C, bytes[end] >= 0x20 { end += 1 }
            if end < bytes.count, bytes[end] == 0x22 {
                defer { index = end + 1 }
                // Invalid UTF-8 is repaired here, so the entry no longer
                // re-encodes to its bytes: the canonical check refuses it.
                return bytes[index..<end].withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
            }
            var out = [UInt8]()
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case 0x22: return String(validating: out, as: UTF8.self)
                case 0x5C:
                    guard index < bytes.count else { return nil }
                    let escaped = bytes[index]
                    index += 1
                    switch escaped {
                    case 0x22, 0x5C, 0x2F: out.append(escaped)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard index + 4 <= bytes.count, bytes[index] == 0x30, bytes[index + 1] == 0x30,
                            let value = UInt8(String(decoding: bytes[(index + 2)..<(index + 4)], as: UTF8.self), radix: 16), value < 0x20
                        else { return nil }
                        out.append(value)
                        index += 4
                    default: return nil
                    }
                case 0..<0x20: return nil
                default: out.append(byte)
                }
            }
            return nil
        }
        func integer() -> String? {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }
        guard take(UInt8(ascii: "{")) else { return nil }
        // Keys must come in the canonical (sorted) order, each at most once:
        // no dictionary is needed, and a log of a million entries is
        // scanned without hashing a key.
        var rank = -1
        var actor: String?
        var detail: String?
        var kind: Kind?
        var recipient: String?
        var sha256: String?
        var source: String?
        var transfer: String?
        var count: Int64?
        var expires: Int64?
        var sequence: Int64?
        var size: UInt64?
        var time: Int64?
        repeat {
            guard let key = string(), take(UInt8(ascii: ":")), let next = Self.keyOrder.firstIndex(of: key), next > rank else { return nil }
            rank = next
            switch key {
            case "actor": actor = string()
            case "detail": detail = string()
            case "kind": kind = string().flatMap(Kind.init(rawValue:))
            case "recipient": recipient = string()
            case "sha256": sha256 = string()
            case "source": source = string()
            case "transfer": transfer = string()
            case "count": count = integer().flatMap { Int64($0) }
            case "expires": expires = integer().flatMap { Int64($0) }
            case "sequence": sequence = integer().flatMap { Int64($0) }
            case "size": size = integer().flatMap { UInt64($0) }
            default: time = integer().flatMap { Int64($0) }
            }
            // A value of the wrong type, or out of range, is left to the general path.
            let parsed: Bool
            switch key {
            case "actor": parsed = actor != nil
            case "detail": parsed = detail != nil
            case "kind": parsed = kind != nil
            case "recipient": parsed = recipient != nil
            case "sha256": parsed = sha256 != nil
            case "source": parsed = source != nil
            case "transfer": parsed = transfer != nil
            case "count": parsed = count != nil
            case "expires": parsed = expires != nil
            case "sequence": parsed = sequence != nil
            case "size": parsed = size != nil
            default: parsed = time != nil
            }
            guard parsed else { return nil }
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")), index == bytes.count, let kind, let sequence, let time, let actor, let source, let detail else { return nil }
        return LogEntry(
            sequence: sequence, time: time, kind: kind, actor: actor, source: source, transfer: transfer, recipient: recipient, size: size,
            sha256: sha256, expires: expires, count: count, detail: detail)
    }

    /// Every key, in the order `encoded()` writes them.
    static let keyOrder = ["actor", "count", "detail", "expires", "kind", "recipient", "sequence", "sha256", "size", "source", "time", "transfer"]

    /// Any JSON: classifies what is wrong with an entry the scan did not take.
    static func decodeGeneral(_ bytes: [UInt8]) throws(LogEntryError) -> LogEntry {
        let keys: [String]
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw LogEntryError(.malformed, "the entry is not a JSON object")
            }
            keys = Array(object.keys)
        } catch let error as LogEntryError {
            throw error
        } catch {
            throw LogEntryError(.malformed, "the entry is not JSON")
        }
        if let unknown = keys.sorted().first(where: { !Self.fieldNames.contains($0) }) {
            throw LogEntryError(.unknownField, "the entry has the unknown field \"\(unknown)\"")
        }
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: Data(bytes))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.last?.stringValue ?? "?"
            throw LogEntryError(.invalidField, "the field \"\(key)\" has the wrong type or value")
        } catch {
            throw LogEntryError(.invalidField, "the entry's fields do not decode")
        }
        func required<T>(_ value: T?, _ key: String) throws(LogEntryError) -> T {
            guard let value else { throw LogEntryError(.missingField, "the entry has no \"\(key)\"") }
            return value
        }
        let kindName = try required(fields.kind, "kind")
        guard let kind = Kind(rawValue: kindName) else {
            throw LogEntryError(.unknownKind, "the entry has the unknown kind \"\(kindName)\"")
        }
        return LogEntry(
            sequence: try required(fields.sequence, "sequence"), time: try required(fields.time, "time"), kind: kind,
            actor: try required(fields.actor, "actor"), source: try required(fields.source, "source"), transfer: fields.transfer,
            recipient: fields.recipient, size: fields.size, sha256: fields.sha256, expires: fields.expires, count: fields.count,
            detail: try required(fields.detail, "detail"))
    }
}

public struct LogEntryError: CodedError, Sendable {
    public enum Code: String, Sendable {
        case malformed = "malformed"
        case unknownKind = "unknown-kind"
        case unknownField = "unknown-field"
        case missingField = "missing-field"
        case invalidField = "invalid-field"
        case notCanonical = "not-canonical"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
