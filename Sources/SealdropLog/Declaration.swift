import Foundation
import SealdropCrypto
import SealdropFormat

/// The sender's data-minimisation declaration for one transfer: why it was
/// sent, under which instruction, which kinds of data and how many records.
/// Signed with the sender's key and logged, so a report can set what was
/// declared beside what was sent, and nobody can change it afterwards.
public struct Declaration: Codable, Equatable, Sendable {
    public var transfer: String
    public var purpose: String
    /// The instruction, contract or ticket that asked for the extract.
    public var reference: String
    /// Tables or categories of data included.
    public var categories: [String]
    public var records: Int?
    /// Unix milliseconds.
    public var time: Int64
    /// Hex Ed25519 signature over `signingMessage`.
    public var signature: String

    public init(transfer: String, purpose: String, reference: String, categories: [String], records: Int?, time: Int64, signature: String) {
        self.transfer = transfer
        self.purpose = purpose
        self.reference = reference
        self.categories = categories
        self.records = records
        self.time = time
        self.signature = signature
    }

    /// Bounds on what a declaration may hold: a few lines, not a document.
    public static let maximumSize = 8192
    public static let maximumFieldLength = 1024

    static let context: [UInt8] = Array("sealdrop-declaration-v1".utf8) + [0]

    /// Length-prefixed fields after the context, so no two declarations share a message.
    public func signingMessage() -> [UInt8] {
        var writer = WireWriter()
        writer.write(Self.context)
        for field in [transfer, purpose, reference] + categories { writer.writeSSHString(Array(field.utf8)) }
        writer.writeUInt32(UInt32(categories.count))
        writer.writeInt64(Int64(records ?? -1))
        writer.writeInt64(time)
        return writer.bytes
    }

    public static func sign(
        transfer: String, purpose: String, reference: String, categories: [String], records: Int?, at date: Date, with key: Ed25519PrivateKey
    ) -> Declaration {
        var declaration = Declaration(
            transfer: transfer, purpose: purpose, reference: reference, categories: categories, records: records,
            time: Int64((date.timeIntervalSince1970 * 1000).rounded()), signature: "")
        declaration.signature = Hex.encode(key.signature(for: declaration.signingMessage()))
        return declaration
    }

    public func isSigned(by key: Ed25519PublicKey) -> Bool {
        guard let signature = Hex.decode(signature) else { return false }
        return key.isValidSignature(signature, for: signingMessage())
    }

    /// What is wrong with the fields, or nil.
    public var problem: String? {
        let fields = [purpose, reference] + categories
        if purpose.isEmpty { return "a declaration needs a purpose" }
        if fields.contains(where: { $0.utf8.count > Self.maximumFieldLength }) { return "a declaration field is longer than \(Self.maximumFieldLength) bytes" }
        if fields.contains(where: { $0.unicodeScalars.contains(where: TextSafety.isUnsafe) }) { return "a declaration field contains control characters" }
        if let records, records < 0 { return "the record count is negative" }
        return nil
    }
}
