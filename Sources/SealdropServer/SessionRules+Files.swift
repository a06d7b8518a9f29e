import Foundation
import SealdropLayout
import SealdropLog
import SealdropSFTP
import SealdropStore
import SealdropTrust

extension SessionRules {
    /// The message every out-of-space refusal carries, whatever failed.
    static let outOfSpace = "the drop box is out of space; the upload was removed, try again later"

    mutating func open(_ path: VirtualPath, id: UInt32, now: Date, view: some SessionView) throws -> SessionAction {
        switch path {
        case .inboxFile(let transferID):
            for case .download(let progress) in handles.values.map(\.content) where progress.transfer.id == transferID {
                throw Refusal(.failure, "transfer \(transferID) is already open in this session", .badRequest, transferID: transferID)
            }
            // Certificates can be revoked while a session runs.
            guard view.isStillValid(vendor: vendor, now: now) else {
                throw Refusal(.permissionDenied, "your certificate no longer verifies; ask the operator", .trustRefused, transferID: transferID)
            }
            let handle = try reserveHandle()
            wait(.openDownload(id: id, handle: handle))
            return .claimDownload(handle: handle, transferID: transferID)
        case .directoryFile(let name):
            guard let file = view.directoryFile(name) else { throw Refusal(.noSuchFile, "no such certificate", .notFound) }
            return .reply(.handle(id: id, handle: try register(OpenHandle(kind: .directoryFile, content: .memoryFile(file.bytes)))))
        case .receiptFile(let transferID):
            _ = try myTransfer(transferID, view: view)
            let receipt = try view.receipt(for: transferID, now: now)
            return .reply(.handle(id: id, handle: try register(OpenHandle(kind: .receiptFile, content: .memoryFile(receipt)))))
        case .receiptHead, .receiptConsistency:
            let from: Int? = if case .receiptConsistency(let size) = path { size } else { nil }
            guard let head = try view.publishedHead(from: from, now: now) else {
                throw Refusal(.noSuchFile, "no tree head is published yet: the operator has not certified the receipt key", .notFound)
            }
            return .reply(.handle(id: id, handle: try register(OpenHandle(kind: PathKind(path), content: .memoryFile(head)))))
        case .acknowledgment(let transferID):
            let transfer = try view.transfer(id: transferID)
            guard transfer?.recipient == vendor else { throw Refusal.absent(transferID, existing: transfer, "you received no transfer \(transferID)") }
            return .reply(
                .handle(
                    id: id,
                    handle: try register(OpenHandle(kind: .acknowledgment, content: .statement(StatementDraft(.acknowledgment, transferID: transferID))))))
        case .declaration(let transferID):
            let transfer = try view.transfer(id: transferID)
            guard transfer?.sender == vendor else { throw Refusal.absent(transferID, existing: transfer, "you sent no transfer \(transferID)") }
            return .reply(
                .handle(id: id, handle: try register(OpenHandle(kind: .declaration, content: .statement(StatementDraft(.declaration, transferID: transferID)))))
            )
        case .outboxFile(let recipient, let name):
            guard recipient != vendor, view.isRecipient(recipient, now: now) else {
                throw Refusal(.noSuchFile, "there is no outbox for \"\(VendorName.printableName(recipient))\"", .notFound)
            }
            let uploading = handles.values.filter { if case .upload = $0.content { true } else { false } }.count
            guard uploading < Self.maximumUploadsPerSession else {
                throw Refusal(.failure, "\(uploading) uploads are already open in this session; finish one first", .limitReached)
            }
            let handle = try reserveHandle()
            wait(.startUpload(id: id, handle: handle, recipient: recipient, name: name))
            return .startUpload(handle: handle)
        default:
            throw Refusal(path.isDirectory ? .failure : .noSuchFile, "\(path.canonical) cannot be opened as a file", .operationDenied)
        }
    }

    mutating func read(_ handle: [UInt8], _ open: OpenHandle, offset: UInt64, length: UInt32, id: UInt32, now: Date) throws -> SessionAction {
        let wanted = min(Int(length), Self.maximumReadLength)
        switch open.content {
        case .memoryFile, .download:
            // OpenSSH's sftp-server answers a READ of 0 bytes with empty DATA
            // at any offset (checked against 9.2p1): so does this server, and
            // nothing is claimed, read or recorded for it.
            if wanted == 0 { return .reply(.data(id: id, data: [])) }
        default: break
        }
        switch open.content {
        case .memoryFile(let bytes):
            // offset < count ≤ Int.max, so the conversions below cannot trap.
            guard offset < UInt64(bytes.count) else { return .reply(.status(id: id, code: .eof, message: "end of file")) }
            let start = Int(offset)
            return .reply(.data(id: id, data: Array(bytes[start..<(start + min(wanted, bytes.count - start))])))
        case .download(let progress):
            let transfer = progress.transfer
            guard transfer.expiresAt > now else {
                throw Refusal(.failure, "transfer \(transfer.id) has expired and is being deleted", .downloadRefused, transferID: transfer.id)
            }
            guard offset < transfer.size else { return .reply(.status(id: id, code: .eof, message: "end of file")) }
            let count = Int(min(UInt64(wanted), transfer.size - offset))
            try Self.checkScatter(progress.served, adding: offset..<(offset + UInt64(count)), transferID: transfer.id)
            wait(.readBlob(id: id, handle: handle, offset: offset, count: count))
            return .readBlob(handle: handle, offset: offset, count: count)
        default:
            throw Refusal(.permissionDenied, "this handle is not open for reading", .operationDenied)
        }
    }

    /// Refuses a read that would leave the download with too many disjoint
    /// served ranges. Reads extending the served prefix (from offset 0, as
    /// a resume does) always pass: other reads may use all slots but one, so
    /// the list never exceeds `maximumServedRanges` and a transfer scattered
    /// by one session can still be read to the end by the next.
    static func checkScatter(_ served: ServedRanges, adding range: Range<UInt64>, transferID: String) throws {
        var after = served
        after.insert(range)
        let extendsPrefix = after.ranges.first.map { $0.lowerBound == 0 && $0.upperBound >= range.upperBound } ?? false
        let limit = extendsPrefix ? maximumServedRanges : maximumServedRanges - 1
        guard after.ranges.count <= limit || after.ranges.count <= served.ranges.count else {
            throw Refusal(
                .failure, "reads are too scattered (more than \(maximumServedRanges - 1) separate pieces); read the file from start to end",
                .limitReached, transferID: transferID)
        }
    }

    mutating func write(_ handle: [UInt8], _ open: OpenHandle, offset: UInt64, data: [UInt8], id: UInt32, view: some SessionView) throws -> SessionAction {
        switch open.content {
        case .statement(var draft):
            let limit = draft.kind == .acknowledgment ? Acknowledgment.maximumSize : Declaration.maximumSize
            // offset ≤ bytes.count ≤ limit before any Int conversion.
            guard offset <= UInt64(draft.bytes.count), data.count <= limit - Int(offset) else {
                throw Refusal(.failure, "a signed statement is at most \(limit) bytes, written from the start", .badRequest, transferID: draft.transferID)
            }
            let start = Int(offset)
            let end = start + data.count
            if end > draft.bytes.count { draft.bytes += [UInt8](repeating: 0, count: end - draft.bytes.count) }
            draft.bytes.replaceSubrange(start..<end, with: data)
            setHandle(handle, OpenHandle(kind: open.kind, content: .statement(draft)))
            return .reply(.status(id: id, code: .ok, message: ""))
        case .upload(let progress):
            if let failure = progress.failure { throw Refusal(.failure, failure, .alreadyRefused) }
            let (end, overflow) = offset.addingReportingOverflow(UInt64(data.count))
            guard !overflow, end <= view.maximumFileSize else {
                throw Refusal(.failure, "the upload would exceed the limit of \(view.maximumFileSize) bytes", .limitReached)
            }
            // Writes may overlap or repeat but never leave a hole: a sparse file
            // would cost nothing to send and hashing its zeros would cost the server.
            guard offset <= progress.size else {
                throw Refusal(.failure, "writes must be contiguous: offset \(offset) is past the \(progress.size) bytes written so far", .badRequest)
            }
            guard !data.isEmpty else { return .reply(.status(id: id, code: .ok, message: "")) }
            if end > progress.reserved {
                wait(.reserve(id: id, handle: handle, offset: offset, data: data, end: end))
                return .reserve(handle: handle, bytes: end)
            }
            wait(.writeStaged(id: id, handle: handle, end: end))
            return .writeStaged(handle: handle, offset: offset, data: data)
        default:
            throw Refusal(.permissionDenied, "this handle is not open for writing", .operationDenied)
        }
    }

    /// Closes a handle; an upload is validated and published here, a
    /// download delivered (or released) and a statement checked and logged.
    mutating func close(_ handle: [UInt8], _ open: OpenHandle, id: UInt32, now: Date, view: some SessionView) throws -> SessionAction {
        setHandle(handle, nil)
        switch open.content {
        case .listing, .memoryFile:
            return .reply(.status(id: id, code: .ok, message: ""))
        case .download(let progress):
            wait(.finishDownload(id: id))
            return .finishDownload(handle: handle, transferID: progress.transfer.id, closed: true)
        case .statement(let draft):
            let record = try verify(draft, view: view)
            wait(.statement(id: id, kind: draft.kind))
            return .recordStatement(record)
        case .upload(let progress):
            if let failure = progress.failure {
                return discard(handle, then: .refuse(rejection(id, failure, size: progress.size, kind: .alreadyRefused)))
            }
            guard view.isStillValid(vendor: vendor, now: now) else {
                return discard(handle, then: .refuse(rejection(id, "your certificate no longer verifies", size: progress.size, kind: .trustRefused)))
            }
            guard view.isRecipient(progress.recipient, now: now) else {
                return discard(
                    handle,
                    then: .refuse(rejection(id, "the certificate of \(progress.recipient) no longer verifies", size: progress.size, kind: .trustRefused)))
            }
            wait(.validate(id: id, handle: handle, size: progress.size))
            return .validateUpload(handle: handle, recipient: progress.recipient, size: progress.size)
        }
    }

    mutating func discard(_ handle: [UInt8], then: SessionAction) -> SessionAction {
        uploadDiscarded(handle: handle)
        wait(.discard(then: then))
        return .discardUpload(handle: handle)
    }

    func rejection(_ id: UInt32, _ reason: String, size: UInt64?, transferID: String? = nil, kind: RefusalRecord.Kind = .uploadRejected)
        -> SessionRefusal
    {
        SessionRefusal(
            id: id, code: .failure, message: "upload rejected: \(reason)", record: RefusalRecord(kind: kind, transferID: transferID, reason: reason, size: size)
        )
    }

    /// A statement's checks: signed by this vendor's certified key, about a
    /// transfer this vendor sent (declaration) or received (acknowledgment).
    func verify(_ draft: StatementDraft, view: some SessionView) throws -> StatementRecord {
        let id = draft.transferID
        switch draft.kind {
        case .acknowledgment:
            guard let ack = try? JSONDecoder().decode(Acknowledgment.self, from: Data(draft.bytes)), ack.transfer == id else {
                throw Refusal(.failure, "acknowledgment refused: it is not an acknowledgment of transfer \(id)", .badRequest, transferID: id)
            }
            // A transfer still pending is delivered by the acknowledgment (a
            // resume whose earlier handle was lost counted only its tail).
            guard let transfer = try view.transfer(id: id), transfer.recipient == vendor,
                transfer.state == .delivered || TransferState.pending.contains(transfer.state)
            else {
                throw Refusal(
                    .failure, "acknowledgment refused: transfer \(id) was not sent to you, or it ended without reaching you", .badRequest, transferID: id)
            }
            guard ack.ciphertextSHA256 == transfer.ciphertextSHA256 else {
                throw Refusal(.failure, "acknowledgment refused: it names another envelope than the one delivered", .badRequest, transferID: id)
            }
            guard ack.isSigned(by: key.signingKey) else {
                throw Refusal(.failure, "acknowledgment refused: its signature is not yours", .badRequest, transferID: id)
            }
            let detail = String(decoding: (try? JSONEncoder().encode(ack)) ?? Data(), as: UTF8.self)
            return StatementRecord(kind: .acknowledgment, transferID: id, sha256: ack.ciphertextSHA256, detail: detail)
        case .declaration:
            guard let declaration = try? JSONDecoder().decode(Declaration.self, from: Data(draft.bytes)), declaration.transfer == id else {
                throw Refusal(.failure, "declaration refused: it is not a declaration for transfer \(id)", .badRequest, transferID: id)
            }
            if let problem = declaration.problem { throw Refusal(.failure, "declaration refused: \(problem)", .badRequest, transferID: id) }
            guard declaration.isSigned(by: key.signingKey) else {
                throw Refusal(.failure, "declaration refused: its signature is not yours", .badRequest, transferID: id)
            }
            let detail = String(decoding: (try? JSONEncoder().encode(declaration)) ?? Data(), as: UTF8.self)
            return StatementRecord(kind: .declaration, transferID: id, sha256: nil, detail: detail)
        }
    }
}

extension Refusal {
    /// The same refusal, recording `reason` (for the log) instead of the client's message.
    func with(reason: String) -> Refusal {
        var copy = self
        copy.recordedReason = reason
        return copy
    }
}
