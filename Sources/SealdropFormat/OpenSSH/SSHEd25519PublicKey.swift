/// An Ed25519 public key in OpenSSH's encodings: the wire blob
/// (RFC 8709 §4: `string "ssh-ed25519"`, `string key`) and the
/// one-line `.pub` form (`ssh-ed25519 BASE64 comment`).
public struct SSHEd25519PublicKey: Hashable, Sendable {
    public static let keyType = "ssh-ed25519"
    public static let keyLength = 32

    public let rawKey: [UInt8]
    public var comment: String

    public init<C: Collection<UInt8>>(rawKey: C, comment: String = "") throws(KeyFileError) {
        guard rawKey.count == Self.keyLength else {
            throw .malformed("an Ed25519 public key is \(Self.keyLength) bytes, not \(rawKey.count)")
        }
        self.rawKey = Array(rawKey)
        self.comment = comment
    }

    /// The SSH wire blob; its SHA-256 is the OpenSSH fingerprint.
    public var blob: [UInt8] {
        var writer = WireWriter(reservingCapacity: 51)
        writer.writeSSHString(Array(Self.keyType.utf8))
        writer.writeSSHString(rawKey)
        return writer.bytes
    }

    /// The `.pub` file line, without a trailing newline.
    public var authorizedKeyLine: String {
        let line = Self.keyType + " " + Base64.encode(blob)
        return comment.isEmpty ? line : line + " " + comment
    }

    public init<C: Collection<UInt8>>(blob: C) throws(KeyFileError) {
        var reader = WireReader(blob)
        let type: ArraySlice<UInt8>
        let key: ArraySlice<UInt8>
        do {
            type = try reader.readSSHString(maximumLength: 64)
            let typeName = String(decoding: type, as: UTF8.self)
            guard typeName == Self.keyType else {
                throw KeyFileError.unsupported(Self.describe(keyType: typeName))
            }
            key = try reader.readSSHString(maximumLength: 1024)
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw .malformed("the public key blob is cut short")
        }
        guard reader.isAtEnd else {
            throw .malformed("the public key blob has trailing bytes")
        }
        try self.init(rawKey: key)
    }

    /// Parses the first non-empty, non-comment line of a `.pub` file.
    public init(authorizedKeyText text: String) throws(KeyFileError) {
        guard
            let line = text.split(whereSeparator: \.isNewline)
                .map({ $0.trimmingWhitespace() })
                .first(where: { !$0.isEmpty && !$0.hasPrefix("#") })
        else {
            throw KeyFileError(.notAKeyFile, "it holds no public key line")
        }
        if line.hasPrefix("-----BEGIN") {
            throw KeyFileError(.notAKeyFile, "it is a private key or certificate, not an OpenSSH public key (`KEY.pub`)")
        }
        let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard fields.count >= 2 else {
            throw KeyFileError(.notAKeyFile, "it is not an OpenSSH public key line (`ssh-ed25519 AAAA... comment`)")
        }
        let typeName = String(fields[0])
        guard typeName == Self.keyType else {
            throw KeyFileError.unsupported(Self.describe(keyType: typeName))
        }
        guard let blob = Base64.decode(fields[1]) else {
            throw KeyFileError.malformed("the Base64 key data is invalid")
        }
        try self.init(blob: blob)
        comment = fields.count > 2 ? String(fields[2]) : ""
    }

    static func describe(keyType: String) -> String {
        switch keyType {
        case "ssh-rsa": return "RSA"
        case "ssh-dss": return "DSA"
        case let type where type.hasPrefix("ecdsa-sha2-"): return "ECDSA"
        case let type where type.hasPrefix("sk-"): return "security-key (\(type))"
        default:
            let printable = keyType.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f }
            return printable && keyType.count <= 64 ? "\"\(keyType)\"" : "unknown"
        }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        let start = firstIndex(where: { !$0.isWhitespace }) ?? endIndex
        let end = lastIndex(where: { !$0.isWhitespace }).map(index(after:)) ?? start
        return self[start..<Swift.max(start, end)]
    }
}
