import Foundation
import SealdropCrypto
import SealdropFormat

/// The recipient's signed statement that it received and decrypted a
/// transfer: which envelope (its SHA-256), what plaintext came out (its
/// SHA-256), and when. Signed with the recipient's own key, so a server
/// cannot forge one, and logged so an auditor can check it.
public struct Acknowledgment: Codable, Equatable, Sendable {
    public var transfer: String
    public var ciphertextSHA256: String
    public var plaintextSHA256: String
    /// Unix milliseconds.
    public var time: Int64
    /// Hex Ed25519 signature over `signingMessage`.
    public var signature: String

    /// The most an acknowledgment file may hold; a real one is ~400 bytes.
    public static let maximumSize = 4096

    static let context: [UInt8] = Array("sealdrop-acknowledgment-v1".utf8) + [0]

    public static func signingMessage(transfer: String, ciphertextSHA256: String, plaintextSHA256: String, time: Int64) -> [UInt8]? {
        guard let id = Hex.decode(transfer), id.count == 16, let ciphertext = Hex.decode(ciphertextSHA256), ciphertext.count == 32,
            let plaintext = Hex.decode(plaintextSHA256), plaintext.count == 32
        else { return nil }
        var writer = WireWriter()
        writer.write(context)
        writer.write(id)
        writer.write(ciphertext)
        writer.write(plaintext)
        writer.writeInt64(time)
        return writer.bytes
    }

    public static func sign(transfer: String, ciphertextSHA256: [UInt8], plaintextSHA256: [UInt8], at date: Date, with key: Ed25519PrivateKey) -> Acknowledgment
    {
        let time = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let message = signingMessage(
            transfer: transfer, ciphertextSHA256: Hex.encode(ciphertextSHA256), plaintextSHA256: Hex.encode(plaintextSHA256), time: time)!
        return Acknowledgment(
            transfer: transfer, ciphertextSHA256: Hex.encode(ciphertextSHA256), plaintextSHA256: Hex.encode(plaintextSHA256), time: time,
            signature: Hex.encode(key.signature(for: message)))
    }

    public func isSigned(by key: Ed25519PublicKey) -> Bool {
        guard let message = Self.signingMessage(transfer: transfer, ciphertextSHA256: ciphertextSHA256, plaintextSHA256: plaintextSHA256, time: time),
            let signature = Hex.decode(signature)
        else { return false }
        return key.isValidSignature(signature, for: message)
    }
}
