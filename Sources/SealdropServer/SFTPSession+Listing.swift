import Foundation
import SealdropLayout
import SealdropSFTP
import SealdropStore
import SealdropTrust

extension SFTPSession {
    /// Directory modes: owner-only, and outboxes write-only, so `ls -l`
    /// shows the rules.
    static let readableDirectory = SFTPAttributes.directory | 0o500
    static let writeOnlyDirectory = SFTPAttributes.directory | 0o300
    static let readOnlyFile = SFTPAttributes.regularFile | 0o400
    /// Entries per NAME reply: keeps each reply far below the packet limit.
    static let namesPerReply = 100

    /// Folders are virtual: they show the session's start as their time.
    var folderTime: UInt32 { UInt32(clamping: Int(startedAt.timeIntervalSince1970)) }

    func attributes(of path: VirtualPath) throws -> SFTPAttributes {
        switch path {
        case .root, .inbox, .sent, .directory, .receipts, .outbox:
            return SFTPAttributes(size: 0, permissions: Self.readableDirectory, accessTime: folderTime, modificationTime: folderTime)
        case .outboxVendor(let name):
            _ = try outboxRecipient(name)
            return SFTPAttributes(size: 0, permissions: Self.writeOnlyDirectory, accessTime: folderTime, modificationTime: folderTime)
        case .inboxFile(let id):
            return fileAttributes(try myInboxTransfer(id))
        case .sentFile(let id):
            guard let transfer = try dropBox.store.transfer(id: id), transfer.sender == vendor.name.value else {
                throw Refusal(.noSuchFile, "no such file or directory")
            }
            return fileAttributes(transfer)
        case .directoryFile(let name):
            guard let file = directoryFile(name), let info = try? FileManager.default.attributesOfItem(atPath: file) else {
                throw Refusal(.noSuchFile, "no such certificate")
            }
            return SFTPAttributes(
                size: (info[.size] as? NSNumber)?.uint64Value ?? 0, permissions: Self.readOnlyFile,
                modificationTime: UInt32(clamping: Int((info[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)))
        case .outboxFile:
            // Write-only: what was uploaded is not visible here (see /sent).
            throw Refusal(.noSuchFile, "no such file or directory")
        case .acknowledgment, .declaration:
            throw Refusal(.noSuchFile, "signed statements are write-only; see the receipt")
        case .receiptFile(let id):
            let transfer = try myTransfer(id)
            let time = UInt32(clamping: Int(transfer.uploadedAt.timeIntervalSince1970))
            return SFTPAttributes(permissions: Self.readOnlyFile, accessTime: time, modificationTime: time)
        }
    }

    func fstat(_ handle: OpenHandle) throws -> SFTPAttributes {
        switch handle {
        case .listing: SFTPAttributes(size: 0, permissions: Self.readableDirectory)
        case .memoryFile(let bytes): SFTPAttributes(size: UInt64(bytes.count), permissions: Self.readOnlyFile)
        case .upload(let state): SFTPAttributes(size: state.size, permissions: SFTPAttributes.regularFile | 0o200)
        case .download(let state): fileAttributes(state.transfer)
        case .statement(let state): SFTPAttributes(size: UInt64(state.bytes.count), permissions: SFTPAttributes.regularFile | 0o200)
        }
    }

    /// A transfer this vendor sent or received, whatever its state (its receipt).
    func myTransfer(_ id: String) throws -> Transfer {
        guard let transfer = try dropBox.store.transfer(id: id), transfer.sender == vendor.name.value || transfer.recipient == vendor.name.value
        else { throw Refusal(.noSuchFile, "no such file or directory") }
        return transfer
    }

    /// A pending, unexpired transfer addressed to this vendor; anything else
    /// (another vendor's id included) is simply "no such file".
    func myInboxTransfer(_ id: String) throws -> Transfer {
        guard let transfer = try dropBox.store.transfer(id: id), transfer.recipient == vendor.name.value,
            TransferState.pending.contains(transfer.state), transfer.expiresAt > Date()
        else { throw Refusal(.noSuchFile, "no such file or directory") }
        return transfer
    }

    /// The ATTRS extension carrying a transfer's expiry (Unix seconds, decimal),
    /// which plain SFTP clients ignore and `sealdrop inbox` shows.
    static let expiresAttribute = Array("expires@sealdrop".utf8)

    func fileAttributes(_ transfer: Transfer) -> SFTPAttributes {
        let time = UInt32(clamping: Int(transfer.uploadedAt.timeIntervalSince1970))
        let expires = Array(String(Int(transfer.expiresAt.timeIntervalSince1970)).utf8)
        return SFTPAttributes(
            size: transfer.size, permissions: Self.readOnlyFile, accessTime: time, modificationTime: time,
            extended: [(type: Self.expiresAttribute, data: expires)])
    }

    func listing(of path: VirtualPath) throws -> [SFTPNameEntry] {
        var entries = [entry(".", try attributes(of: path))]
        switch path {
        case .root:
            for name in ["inbox", "outbox", "sent", "directory", "receipts"] {
                entries.append(entry(name, try attributes(of: VirtualPath.classify([name])!)))
            }
        case .inbox:
            let now = Date()
            for transfer in try dropBox.store.inbox(recipient: vendor.name.value) where transfer.expiresAt > now {
                entries.append(entry(transfer.id + VirtualPath.envelopeSuffix, fileAttributes(transfer), owner: transfer.sender))
            }
        case .sent:
            for transfer in try dropBox.store.sent(by: vendor.name.value) {
                entries.append(entry(transfer.id + VirtualPath.envelopeSuffix, fileAttributes(transfer), owner: transfer.state.rawValue))
            }
        case .outbox:
            for name in outboxNames() {
                entries.append(entry(name, SFTPAttributes(size: 0, permissions: Self.writeOnlyDirectory, accessTime: folderTime, modificationTime: folderTime)))
            }
        case .outboxVendor(let name):
            _ = try outboxRecipient(name)
        case .directory:
            for name in ["ca.pem", "revocations.crl"] + vendorCertificateNames() {
                if let attributes = try? attributes(of: .directoryFile(name: name)) { entries.append(entry(name, attributes)) }
            }
        case .receipts:
            for transfer in try dropBox.store.involving(vendor.name.value) {
                entries.append(entry(transfer.id + VirtualPath.receiptSuffix, try attributes(of: .receiptFile(transferID: transfer.id))))
            }
        default:
            throw Refusal(.noSuchFile, "not a directory")
        }
        return entries
    }

    func readdir(_ raw: [UInt8], id: UInt32) throws -> SFTPMessage {
        let key = String(decoding: raw, as: UTF8.self)
        guard case .listing(let entries, let next) = try lookup(raw) else { throw Refusal(.failure, "not a directory handle") }
        guard next < entries.count else { return .status(id: id, code: .eof, message: "end of directory") }
        let end = min(entries.count, next + Self.namesPerReply)
        handles[key] = .listing(entries, next: end)
        return .name(id: id, entries: Array(entries[next..<end]))
    }

    /// Every other vendor whose certificate verifies as a recipient now.
    private func outboxNames() -> [String] {
        guard let trust = try? dropBox.trustStore() else { return [] }
        let verifier = trust.verifier()
        return trust.vendorCertificates()
            .compactMap { try? verifier.verify($0, for: .recipient).name.value }
            .filter { $0 != vendor.name.value }
            .sorted()
    }

    private func vendorCertificateNames() -> [String] {
        let folder = dropBox.configuration.trustDirectory + "/vendors"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".pem") }.sorted()
    }

    private func entry(_ name: String, _ attributes: SFTPAttributes, owner: String = "sealdrop") -> SFTPNameEntry {
        let isDirectory = (attributes.permissions ?? 0) & SFTPAttributes.directory != 0
        let mode = Self.modeString(attributes.permissions ?? 0, directory: isDirectory)
        let date = Date(timeIntervalSince1970: TimeInterval(attributes.modificationTime ?? 0))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMM dd HH:mm"
        let longname =
            "\(mode)    1 \(owner.padding(toLength: 10, withPad: " ", startingAt: 0)) \(String(attributes.size ?? 0).leftPadded(12)) \(formatter.string(from: date)) \(name)"
        return SFTPNameEntry(filename: Array(name.utf8), longname: Array(longname.utf8), attributes: attributes)
    }

    static func modeString(_ mode: UInt32, directory: Bool) -> String {
        var text = directory ? "d" : "-"
        for shift in stride(from: 6, through: 0, by: -3) {
            let bits = (mode >> UInt32(shift)) & 7
            text += (bits & 4 != 0 ? "r" : "-") + (bits & 2 != 0 ? "w" : "-") + (bits & 1 != 0 ? "x" : "-")
        }
        return text
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
