import Foundation
import SealdropLayout
import SealdropSFTP

/// One transfer as a drop box listing (or STAT) describes it, after every
/// field has passed the rules the server itself applies: the id is a
/// `TransferID`, names follow `VendorNameRule`, the state is one of the
/// lifecycle's, the expiry is decimal Unix seconds. Built only by
/// `TransferEntry.parse`, so an unchecked value never reaches a caller.
public struct TransferEntry: Sendable, Equatable {
    public let id: String
    /// The sending vendor (for `/sent`, the one logged in).
    public let sender: String
    /// The receiving vendor, when the drop box said it (typed attributes only).
    public let recipient: String?
    /// The lifecycle state, when the drop box said it (always for `/sent`).
    public let state: String?
    public let size: UInt64
    public let uploaded: Date
    public let expires: Date?

    /// Which folder an entry came from decides which fields it must carry.
    public enum Folder: String, Sendable {
        case inbox = "/inbox"
        case sent = "/sent"
    }

    /// Longest long name read for the fallback (`ls -l` lines are ~80 bytes).
    static let maximumLongNameLength = 512

    /// Checks one entry of `folder` for `vendor`.
    ///
    /// - Parameter typed: the drop box echoed `DropBoxAttributes.initExtension`,
    ///   so it promised the typed attributes on every entry; a missing one
    ///   is an error. Otherwise the long name's owner column is read with
    ///   the same rules (the sender in `/inbox`, the state in `/sent`).
    public static func parse(_ entry: SFTPNameEntry, in folder: Folder, vendor: String, typed: Bool) throws -> TransferEntry {
        let shownName = UntrustedText.fromServer(entry.filename)
        guard let name = String(validating: entry.filename, as: UTF8.self), let id = TransferID.parse(fileName: name, suffix: VirtualPath.envelopeSuffix)
        else {
            throw DropBoxError(
                .invalidName,
                "the drop box listed \"\(shownName)\" in \(folder.rawValue), which is not a transfer (ID.sealdrop, 32 lower-case hex digits); nothing was used")
        }
        return try parse(attributes: entry.attributes, longName: entry.longname, id: id, in: folder, vendor: vendor, typed: typed)
    }

    /// Checks the attributes of transfer `id` (a listing entry's, or a STAT answer's).
    public static func parse(
        attributes: SFTPAttributes, longName: [UInt8] = [], id: String, in folder: Folder, vendor: String, typed: Bool
    ) throws -> TransferEntry {
        let what = "\(folder.rawValue)/\(id)\(VirtualPath.envelopeSuffix)"
        var values: [String: String] = [:]
        for pair in attributes.extended {
            let type = String(decoding: pair.type, as: UTF8.self)
            guard [DropBoxAttributes.sender, DropBoxAttributes.recipient, DropBoxAttributes.state, DropBoxAttributes.expires].contains(type) else { continue }
            guard values[type] == nil else { throw DropBoxError(.protocolViolation, "the drop box sent \(type) twice for \(what)") }
            guard pair.data.count <= DropBoxAttributes.maximumValueLength, let value = String(validating: pair.data, as: UTF8.self) else {
                throw DropBoxError(
                    .tooLarge, "the drop box sent a \(type) value for \(what) longer than \(DropBoxAttributes.maximumValueLength) bytes or not UTF-8")
            }
            values[type] = value
        }
        func required(_ type: String) throws -> String {
            guard let value = values[type] else {
                throw DropBoxError(.missingAttribute, "the drop box listed \(what) without the \(type) attribute it promised; nothing was used")
            }
            return value
        }
        func vendorName(_ text: String, _ role: String) throws -> String {
            if let problem = VendorNameRule.problem(with: text) {
                throw DropBoxError(
                    .invalidName, "the drop box named the \(role) of \(what) \"\(UntrustedText.fromServer(text))\", not a vendor name (\(problem))")
            }
            return text
        }
        func state(_ text: String) throws -> String {
            guard DropBoxAttributes.states.contains(text) else {
                throw DropBoxError(.invalidName, "the drop box gave \(what) the state \"\(UntrustedText.fromServer(text))\", which is not a transfer state")
            }
            return text
        }

        let sender: String
        var recipient: String?
        var stateValue: String?
        if typed {
            sender = try vendorName(try required(DropBoxAttributes.sender), "sender")
            recipient = try vendorName(try required(DropBoxAttributes.recipient), "recipient")
            stateValue = try state(try required(DropBoxAttributes.state))
        } else {
            // A server without typed attributes puts the sender (inbox) or
            // state (sent) in the owner column of its `ls -l` line.
            guard longName.count <= maximumLongNameLength else {
                throw DropBoxError(.tooLarge, "the drop box's long name for \(what) is longer than \(maximumLongNameLength) bytes")
            }
            let fields = String(decoding: longName, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 2 else { throw DropBoxError(.missingAttribute, "the drop box listed \(what) without its owner column; nothing was used") }
            let owner = String(fields[2])
            switch folder {
            case .inbox:
                sender = try vendorName(owner, "sender")
            case .sent:
                sender = vendor
                stateValue = try state(owner)
            }
        }
        switch folder {
        case .inbox:
            if let recipient, recipient != vendor {
                throw DropBoxError(.wrongEnvelope, "the drop box listed \(what) in your inbox as addressed to \(recipient), not to you")
            }
        case .sent:
            if sender != vendor { throw DropBoxError(.wrongEnvelope, "the drop box listed \(what) among what you sent, as sent by \(sender)") }
        }
        guard let size = attributes.size else { throw DropBoxError(.missingAttribute, "the drop box listed \(what) without a size") }
        var expires: Date?
        if let text = values[DropBoxAttributes.expires] {
            if let problem = DropBoxAttributes.expiryProblem(text) {
                throw DropBoxError(.invalidName, "the drop box gave \(what) the expiry \"\(UntrustedText.fromServer(text))\": \(problem)")
            }
            expires = Date(timeIntervalSince1970: TimeInterval(UInt64(text)!))
        } else if typed {
            _ = try required(DropBoxAttributes.expires)
        }
        return TransferEntry(
            id: id, sender: sender, recipient: recipient, state: stateValue, size: size,
            uploaded: Date(timeIntervalSince1970: TimeInterval(attributes.modificationTime ?? 0)), expires: expires)
    }
}
