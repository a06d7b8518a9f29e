import Foundation

/// OpenSSH's private key file (`openssh-key-v1`, PROTOCOL.key in OpenSSH),
/// restricted to one Ed25519 key, which is what `ssh-keygen -t ed25519` writes.
///
/// Only the container is read here; an encrypted private section is handed
/// to a decryptor that knows bcrypt-pbkdf and the cipher (see SealdropKeys).
public struct OpenSSHPrivateKeyFile: Sendable {
    static let beginLine = "-----BEGIN OPENSSH PRIVATE KEY-----"
    static let endLine = "-----END OPENSSH PRIVATE KEY-----"
    static let authMagic: [UInt8] = Array("openssh-key-v1".utf8) + [0]

    /// Longest field we accept; a real Ed25519 key file is under 500 bytes.
    static let maximumFieldLength = 16 * 1024

    public let cipherName: String
    public let kdfName: String
    public let publicKey: SSHEd25519PublicKey
    let privateSection: [UInt8]

    public var isEncrypted: Bool { cipherName != "none" }

    /// The decrypted private part of an Ed25519 key file.
    public struct PrivatePart: Sendable {
        /// The 32-byte Ed25519 seed (RFC 8032's private key).
        public var seed: [UInt8]
        public var publicKey: SSHEd25519PublicKey
        public var comment: String
    }

    /// Reads the armour and container; never needs a passphrase.
    public init(text: String) throws(KeyFileError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix(Self.beginLine) else {
            throw Self.explainForeignFormat(trimmed)
        }
        guard trimmed.hasSuffix(Self.endLine) else {
            throw .malformed("the END OPENSSH PRIVATE KEY line is missing (the file is truncated)")
        }
        let base64 = trimmed.dropFirst(Self.beginLine.count).dropLast(Self.endLine.count)
        guard let binary = Base64.decode(base64.filter { !$0.isWhitespace }) else {
            throw .malformed("the Base64 body is invalid")
        }
        var reader = WireReader(binary)
        do {
            guard try reader.readBytes(Self.authMagic.count).elementsEqual(Self.authMagic) else {
                throw KeyFileError.malformed("the openssh-key-v1 magic is missing")
            }
            cipherName = String(decoding: try reader.readSSHString(maximumLength: 64), as: UTF8.self)
            kdfName = String(decoding: try reader.readSSHString(maximumLength: 64), as: UTF8.self)
            _ = try reader.readSSHString(maximumLength: Self.maximumFieldLength)
            let keyCount = try reader.readUInt32()
            guard keyCount == 1 else {
                throw KeyFileError.malformed("it holds \(keyCount) keys; exactly one is expected")
            }
            publicKey = try SSHEd25519PublicKey(blob: try reader.readSSHString(maximumLength: Self.maximumFieldLength))
            privateSection = Array(try reader.readSSHString(maximumLength: Self.maximumFieldLength))
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw .malformed("a field runs past the end of the key")
        }
        guard reader.isAtEnd else {
            throw .malformed("there are bytes after the private section")
        }
        if cipherName == "none" {
            guard kdfName == "none" else {
                throw .malformed("an unencrypted key names the key derivation \(kdfName)")
            }
        }
    }

    /// The private part of an unencrypted key file.
    public func decodePrivatePart() throws(KeyFileError) -> PrivatePart {
        guard !isEncrypted else {
            throw KeyFileError(.encrypted, "the key is protected by a passphrase")
        }
        var reader = WireReader(privateSection)
        let part: PrivatePart
        do {
            let check1 = try reader.readUInt32()
            let check2 = try reader.readUInt32()
            guard check1 == check2 else {
                throw KeyFileError.malformed("its check numbers differ")
            }
            let typeName = String(decoding: try reader.readSSHString(maximumLength: 64), as: UTF8.self)
            guard typeName == SSHEd25519PublicKey.keyType else {
                throw KeyFileError.unsupported(SSHEd25519PublicKey.describe(keyType: typeName))
            }
            let publicBytes = try reader.readSSHString(maximumLength: 64)
            let secret = try reader.readSSHString(maximumLength: 128)
            let comment = try reader.readSSHString(maximumLength: Self.maximumFieldLength)
            guard secret.count == 64, secret.suffix(32).elementsEqual(publicBytes) else {
                throw KeyFileError.malformed("the Ed25519 secret key is not seed followed by public key")
            }
            guard publicBytes.elementsEqual(publicKey.rawKey) else {
                throw KeyFileError.malformed("the private and public halves do not match")
            }
            var publicKey = self.publicKey
            publicKey.comment = String(decoding: comment, as: UTF8.self)
            part = PrivatePart(seed: Array(secret.prefix(32)), publicKey: publicKey, comment: publicKey.comment)
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw .malformed("the private section is cut short")
        }
        for (index, byte) in reader.bytes.enumerated() where byte != UInt8(truncatingIfNeeded: index + 1) {
            throw .malformed("the private section padding is wrong")
        }
        return part
    }

    /// An unencrypted key file, wrapped at 70 columns as `ssh-keygen` does.
    ///
    /// - Parameter checkNumber: random per file in OpenSSH; it only lets a
    ///   decryptor notice a wrong passphrase, so it is the caller's choice.
    public static func encode(
        seed: [UInt8], publicKey: SSHEd25519PublicKey, checkNumber: UInt32
    ) -> String {
        precondition(seed.count == 32)
        var section = WireWriter(reservingCapacity: 256)
        section.writeUInt32(checkNumber)
        section.writeUInt32(checkNumber)
        section.writeSSHString(Array(SSHEd25519PublicKey.keyType.utf8))
        section.writeSSHString(publicKey.rawKey)
        section.writeSSHString(seed + publicKey.rawKey)
        section.writeSSHString(Array(publicKey.comment.utf8))
        var padding: UInt8 = 1
        while section.bytes.count % 8 != 0 {
            section.writeUInt8(padding)
            padding += 1
        }

        var file = WireWriter(reservingCapacity: 512)
        file.write(authMagic)
        file.writeSSHString(Array("none".utf8))
        file.writeSSHString(Array("none".utf8))
        file.writeSSHString([UInt8]())
        file.writeUInt32(1)
        file.writeSSHString(publicKey.blob)
        file.writeSSHString(section.bytes)

        let body = Base64.encode(file.bytes)
        var lines = [beginLine]
        var rest = Substring(body)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(70)))
            rest = rest.dropFirst(70)
        }
        lines.append(endLine)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func explainForeignFormat(_ text: String) -> KeyFileError {
        let firstLine = text.prefix { $0 != "\n" }
        switch firstLine {
        case "-----BEGIN RSA PRIVATE KEY-----": return .unsupported("RSA")
        case "-----BEGIN DSA PRIVATE KEY-----": return .unsupported("DSA")
        case "-----BEGIN EC PRIVATE KEY-----": return .unsupported("ECDSA")
        case "-----BEGIN PRIVATE KEY-----", "-----BEGIN ENCRYPTED PRIVATE KEY-----":
            return KeyFileError(.notAKeyFile, "it is a PKCS#8 key; sealdrop reads OpenSSH private keys (`ssh-keygen -t ed25519` output)")
        default:
            if firstLine.hasPrefix("ssh-") || firstLine.hasPrefix("ecdsa-") {
                return KeyFileError(.notAKeyFile, "it is a public key; an identity is the private key file (without .pub)")
            }
            return KeyFileError(.notAKeyFile, "it is not an OpenSSH private key (no BEGIN OPENSSH PRIVATE KEY line)")
        }
    }
}
