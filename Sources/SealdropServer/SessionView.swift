import Foundation
import SealdropStore

/// What the rules may look at while deciding: read-only facts about the
/// drop box. Nothing here changes state; every change is a `SessionAction`
/// that `SessionDriver` performs. Tests answer it from memory.
protocol SessionView {
    /// The largest upload accepted (`DropBoxConfiguration.maximumFileSize`).
    var maximumFileSize: UInt64 { get }

    func transfer(id: String) throws -> Transfer?
    /// Pending transfers addressed to `recipient`, oldest first.
    func inbox(recipient: String) throws -> [Transfer]
    /// Everything `sender` sent, newest first.
    func sent(by sender: String) throws -> [Transfer]
    /// Everything `vendor` sent or received, newest first.
    func involving(_ vendor: String) throws -> [Transfer]

    /// True while `vendor`'s certificate verifies for sending and receiving.
    func isStillValid(vendor: String, now: Date) -> Bool
    /// Vendors whose certificate verifies as a recipient now, sorted.
    func recipients(now: Date) -> [String]
    /// True when `name` is a vendor whose certificate verifies as a recipient now.
    func isRecipient(_ name: String, now: Date) -> Bool

    /// Names under `/directory`, sorted: the CA, the revocation list, vendor certificates.
    func directoryNames() -> [String]
    /// A `/directory` file's bytes and modification time, if it exists.
    func directoryFile(_ name: String) -> (bytes: [UInt8], modified: Date)?
    /// A transfer's receipt (its log entries with proofs), encoded for the client.
    func receipt(for transferID: String, now: Date) throws -> [UInt8]
    /// `/receipts/head` (nil) or `/receipts/consistency-N.json`, encoded;
    /// nil when no head can be signed yet (the receipt key is not certified).
    func publishedHead(from: Int?, now: Date) throws -> [UInt8]?
}
