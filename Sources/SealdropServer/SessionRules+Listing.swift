import Foundation
import SealdropLayout
import SealdropSFTP
import SealdropStore
import SealdropTrust

extension SessionRules {
    /// Directory modes: owner-only, and outboxes write-only, so `ls -l`
    /// shows the rules.
    static let readableDirectory = SFTPAttributes.directory | 0o500
    static let writeOnlyDirectory = SFTPAttributes.directory | 0o300
    static let readOnlyFile = SFTPAttributes.regularFile | 0o400

    /// Folders are virtual: they show the session's start as their time.
    var folderTime: UInt32 { Self.seconds(startedAt) }

    /// A date as SFTP v3's 32-bit seconds, clamped (never a trap, whatever the store holds).
    static func seconds(_ date: Date) -> UInt32 {
        UInt32(clamping: wholeSeconds(date))
    }

    /// Unix seconds of a date, clamped to Int64 (a NaN is 0): never a trap.
    static func wholeSeconds(_ date: Date) -> Int64 {
        let value = date.timeIntervalSince1970.rounded(.down)
        guard value.isFinite else { return 0 }
        if value >= 9.2e18 { return Int64.max }
        if value <= -9.2e18 { return Int64.min }
        return Int64(value)
    }

    func attributes(of path: VirtualPath, now: Date, view: some SessionView) throws -> SFTPAttributes {
        switch path {
        case .root, .inbox, .sent, .directory, .receipts, .outbox:
            return SFTPAttributes(size: 0, permissions: Self.readableDirectory, accessTime: folderTime, modificationTime: folderTime)
        case .outboxVendor(let name):
            guard name != vendor, view.isRecipient(name, now: now) else {
                throw Refusal(.noSuchFile, "there is no outbox for \"\(VendorName.printableName(name))\"", .notFound)
            }
            return SFTPAttributes(size: 0, permissions: Self.writeOnlyDirectory, accessTime: folderTime, modificationTime: folderTime)
        case .inboxFile(let id):
            return fileAttributes(try myInboxTransfer(id, now: now, view: view))
        case .sentFile(let id):
            let transfer = try view.transfer(id: id)
            guard let transfer, transfer.sender == vendor else { throw Refusal.absent(id, existing: transfer) }
            return fileAttributes(transfer)
        case .directoryFile(let name):
            guard let file = view.directoryFile(name) else { throw Refusal(.noSuchFile, "no such certificate", .notFound) }
            return SFTPAttributes(size: UInt64(file.bytes.count), permissions: Self.readOnlyFile, modificationTime: Self.seconds(file.modified))
        case .outboxFile(let recipient, let name):
            return try ownUploadAttributes(OutboxName(recipient: recipient, name: name))
        case .acknowledgment, .declaration:
            // Write-only: what was uploaded is not visible here (see /sent and the receipts).
            throw Refusal(.noSuchFile, "no such file or directory", .notFound)
        case .receiptHead, .receiptConsistency:
            // Signed when opened: no size or time until then.
            return SFTPAttributes(permissions: Self.readOnlyFile)
        case .receiptFile(let id):
            let time = Self.seconds(try myTransfer(id, view: view).uploadedAt)
            return SFTPAttributes(permissions: Self.readOnlyFile, accessTime: time, modificationTime: time)
        }
    }

    func fstat(_ open: OpenHandle) -> SFTPAttributes {
        switch open.content {
        case .listing: SFTPAttributes(size: 0, permissions: Self.readableDirectory)
        case .memoryFile(let bytes): SFTPAttributes(size: UInt64(bytes.count), permissions: Self.readOnlyFile)
        case .upload(let progress): SFTPAttributes(size: progress.size, permissions: Self.uploadMode)
        case .download(let progress): fileAttributes(progress.transfer)
        case .statement(let draft): SFTPAttributes(size: UInt64(draft.bytes.count), permissions: SFTPAttributes.regularFile | 0o200)
        }
    }

    /// A transfer this vendor sent or received, whatever its state (its receipt).
    func myTransfer(_ id: String, view: some SessionView) throws -> Transfer {
        let transfer = try view.transfer(id: id)
        guard let transfer, transfer.sender == vendor || transfer.recipient == vendor else { throw Refusal.absent(id, existing: transfer) }
        return transfer
    }

    /// A pending, unexpired transfer addressed to this vendor; anything else
    /// (another vendor's id included) is simply "no such file".
    func myInboxTransfer(_ id: String, now: Date, view: some SessionView) throws -> Transfer {
        let transfer = try view.transfer(id: id)
        guard let transfer, transfer.recipient == vendor else { throw Refusal.absent(id, existing: transfer) }
        guard TransferState.pending.contains(transfer.state), transfer.expiresAt > now else { throw Refusal.absent(id, existing: nil) }
        return transfer
    }

    /// A transfer's attributes; the drop box's own extended attributes only
    /// for a client that asked for them in INIT (`DropBoxAttributes`).
    func fileAttributes(_ transfer: Transfer) -> SFTPAttributes {
        let time = Self.seconds(transfer.uploadedAt)
        var attributes = SFTPAttributes(size: transfer.size, permissions: Self.readOnlyFile, accessTime: time, modificationTime: time)
        if attributesRequested {
            attributes.extended = [
                (DropBoxAttributes.sender, transfer.sender), (DropBoxAttributes.recipient, transfer.recipient),
                (DropBoxAttributes.state, transfer.state.rawValue),
                (DropBoxAttributes.expires, String(Self.wholeSeconds(transfer.expiresAt))),
            ].map { (type: Array($0.0.utf8), data: Array($0.1.utf8)) }
        }
        return attributes
    }

    func listing(of path: VirtualPath, now: Date, view: some SessionView) throws -> [SFTPNameEntry] {
        var entries = [entry(".", try attributes(of: path, now: now, view: view))]
        switch path {
        case .root:
            for name in ["inbox", "outbox", "sent", "directory", "receipts"] {
                if let folder = VirtualPath.classify([name]) { entries.append(entry(name, try attributes(of: folder, now: now, view: view))) }
            }
        case .inbox:
            for transfer in try view.inbox(recipient: vendor) where transfer.expiresAt > now {
                entries.append(entry(transfer.id + VirtualPath.envelopeSuffix, fileAttributes(transfer), owner: transfer.sender))
            }
        case .sent:
            for transfer in try view.sent(by: vendor) {
                entries.append(entry(transfer.id + VirtualPath.envelopeSuffix, fileAttributes(transfer), owner: transfer.state.rawValue))
            }
        case .outbox:
            for name in view.recipients(now: now) where name != vendor {
                entries.append(entry(name, SFTPAttributes(size: 0, permissions: Self.writeOnlyDirectory, accessTime: folderTime, modificationTime: folderTime)))
            }
        case .outboxVendor:
            break
        case .directory:
            for name in view.directoryNames() {
                if let attributes = try? attributes(of: .directoryFile(name: name), now: now, view: view) { entries.append(entry(name, attributes)) }
            }
        case .receipts:
            for transfer in try view.involving(vendor) {
                let time = Self.seconds(transfer.uploadedAt)
                entries.append(
                    entry(
                        transfer.id + VirtualPath.receiptSuffix,
                        SFTPAttributes(permissions: Self.readOnlyFile, accessTime: time, modificationTime: time)))
            }
        default:
            throw Refusal(.noSuchFile, "not a directory", .notFound)
        }
        return entries
    }

    mutating func readdir(_ handle: [UInt8], _ open: OpenHandle, id: UInt32) -> SessionAction {
        guard case .listing(let entries, let next) = open.content else {
            return .refuse(
                SessionRefusal(
                    id: id, code: .failure, message: "not a directory handle",
                    record: RefusalRecord(kind: .badRequest, transferID: nil, reason: "READDIR on a file handle")))
        }
        guard next < entries.count else { return .reply(.status(id: id, code: .eof, message: "end of directory")) }
        let end = min(entries.count, next + Self.namesPerReply)
        setHandle(handle, OpenHandle(kind: open.kind, content: .listing(entries, next: end)))
        return .reply(.name(id: id, entries: Array(entries[next..<end])))
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
