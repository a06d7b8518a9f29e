import Foundation
import SealdropLayout
import SealdropLog
import SealdropSFTP
import SealdropStore
import SealdropTrust

/// A request waiting for the outcome of the effect it asked for.
enum Pending: Equatable {
    case openDownload(id: UInt32, handle: [UInt8])
    case startUpload(id: UInt32, handle: [UInt8], recipient: String, name: String)
    case readBlob(id: UInt32, handle: [UInt8], offset: UInt64, count: Int)
    case recordServed(id: UInt32, handle: [UInt8], data: [UInt8], range: Range<UInt64>)
    case reserve(id: UInt32, handle: [UInt8], offset: UInt64, data: [UInt8], end: UInt64)
    case writeStaged(id: UInt32, handle: [UInt8], end: UInt64)
    case validate(id: UInt32, handle: [UInt8], size: UInt64)
    case publish(id: UInt32, handle: [UInt8], upload: ValidatedUpload)
    /// The staged upload is being removed; then this ends the request.
    case discard(then: SessionAction)
    case finishDownload(id: UInt32)
    case revoke(id: UInt32, transferID: String)
    case statement(id: UInt32, kind: StatementRecord.Kind)

    var id: UInt32 {
        switch self {
        case .openDownload(let id, _), .startUpload(let id, _, _, _), .readBlob(let id, _, _, _), .recordServed(let id, _, _, _),
            .reserve(let id, _, _, _, _),
            .writeStaged(let id, _, _), .validate(let id, _, _), .publish(let id, _, _), .finishDownload(let id),
            .revoke(let id, _), .statement(let id, _):
            id
        case .discard(let then):
            switch then {
            case .reply(let message): message.requestID ?? 0
            case .refuse(let refusal): refusal.id
            default: 0
            }
        }
    }
}

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
        guard length > 0 else { throw Refusal(.failure, "a READ must ask for at least one byte", .badRequest) }
        let wanted = min(Int(length), Self.maximumReadLength)
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
            return .finishDownload(handle: handle, transferID: progress.transfer.id, deliver: progress.served.covers(progress.transfer.size))
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

    private mutating func discard(_ handle: [UInt8], then: SessionAction) -> SessionAction {
        uploadDiscarded(handle: handle)
        wait(.discard(then: then))
        return .discardUpload(handle: handle)
    }

    private func rejection(_ id: UInt32, _ reason: String, size: UInt64?, transferID: String? = nil, kind: RefusalRecord.Kind = .uploadRejected)
        -> SessionRefusal
    {
        SessionRefusal(
            id: id, code: .failure, message: "upload rejected: \(reason)", record: RefusalRecord(kind: kind, transferID: transferID, reason: reason, size: size)
        )
    }

    /// What an effect's outcome means for the request that asked for it.
    mutating func proceed(_ waiting: Pending, _ outcome: EffectOutcome, now: Date, view: some SessionView) throws -> SessionAction {
        if case .failed(.internalError(let reason)) = outcome {
            let failure = SessionRefusal(
                id: waiting.id, code: .failure, message: Self.serverFailure, record: RefusalRecord(kind: .serverError, transferID: nil, reason: reason))
            switch waiting {
            case .writeStaged(let id, let handle, _), .reserve(let id, let handle, _, _, _):
                // The staged bytes can no longer be trusted to be whole.
                return failUpload(handle, id: id, Self.serverFailure)
            case .validate(_, let handle, _), .publish(_, let handle, _):
                // The handle is closed: the staged bytes and the reservation go now.
                return discard(handle, then: .refuse(failure))
            default:
                return .refuse(failure)
            }
        }
        switch (waiting, outcome) {
        case (.openDownload(let id, let handle), .claimed(let transfer)):
            setHandle(handle, OpenHandle(kind: .inboxFile, content: .download(DownloadProgress(transfer: transfer, served: transfer.served, renewedAt: now))))
            return .reply(.handle(id: id, handle: handle))
        case (.openDownload, .failed(.refused(let code, let message))):
            throw Refusal(code, message, .downloadRefused)

        case (.startUpload(let id, let handle, let recipient, let name), .done):
            setHandle(handle, OpenHandle(kind: .outboxFile, content: .upload(UploadProgress(recipient: recipient))))
            rememberUpload(OutboxName(recipient: recipient, name: name), handle: handle)
            return .reply(.handle(id: id, handle: handle))
        case (.startUpload, .failed(.refused(let code, let message))):
            throw Refusal(code, message, .limitReached)
        case (.startUpload, .failed(.outOfSpace)):
            throw Refusal(.failure, Self.outOfSpace, .uploadRejected)

        case (.readBlob(let id, let handle, let offset, let count), .bytes(let data)):
            guard !data.isEmpty, data.count <= count, case .download(let progress)? = handles[handle]?.content else {
                throw Refusal(.failure, Self.serverFailure, .serverError).with(reason: "a stored transfer read back short")
            }
            let range = offset..<(offset + UInt64(data.count))
            wait(.recordServed(id: id, handle: handle, data: data, range: range))
            return .recordServed(transferID: progress.transfer.id, range: range)
        case (.recordServed(let id, let handle, let data, let range), .done):
            if case .download(var progress)? = handles[handle]?.content {
                progress.served.insert(range)
                progress.renewedAt = now
                setHandle(handle, OpenHandle(kind: .inboxFile, content: .download(progress)))
            }
            return .reply(.data(id: id, data: data))
        case (.recordServed, .failed(.refused(let code, let message))):
            throw Refusal(code, message, .downloadRefused)

        case (.reserve(let id, let handle, let offset, let data, let end), .reserved(let bytes)):
            guard bytes >= end, case .upload(var progress)? = handles[handle]?.content else {
                throw Refusal(.failure, Self.serverFailure, .serverError).with(reason: "a reservation smaller than asked")
            }
            progress.reserved = bytes
            setHandle(handle, OpenHandle(kind: .outboxFile, content: .upload(progress)))
            wait(.writeStaged(id: id, handle: handle, end: end))
            return .writeStaged(handle: handle, offset: offset, data: data)
        case (.reserve(let id, let handle, _, _, _), .failed(.refused(_, let message))):
            // It cannot be published now: its staged bytes and reservation go at once, for the vendor's other uploads.
            return failUpload(handle, id: id, message)
        case (.writeStaged(let id, let handle, let end), .done):
            if case .upload(var progress)? = handles[handle]?.content {
                progress.size = max(progress.size, end)
                setHandle(handle, OpenHandle(kind: .outboxFile, content: .upload(progress)))
            }
            return .reply(.status(id: id, code: .ok, message: ""))
        case (.writeStaged(let id, let handle, _), .failed(.outOfSpace)):
            return failUpload(handle, id: id, Self.outOfSpace)

        case (.validate(let id, let handle, _), .validated(let upload)):
            if let existing = try view.transfer(id: upload.transferID) { return duplicate(handle, id: id, upload, existing) }
            wait(.publish(id: id, handle: handle, upload: upload))
            return .publishUpload(handle: handle, upload: upload)
        case (.validate(let id, let handle, let size), .failed(.rejected(let reason))):
            return discard(handle, then: .refuse(rejection(id, reason, size: size)))
        case (.validate(let id, let handle, let size), .failed(.outOfSpace)):
            return discard(handle, then: .refuse(rejection(id, Self.outOfSpace, size: size)))
        case (.publish(let id, let handle, let upload), .failed(.outOfSpace)):
            return discard(handle, then: .refuse(rejection(id, Self.outOfSpace, size: upload.size)))
        case (.publish(let id, let handle, let upload), .published):
            uploadPublished(handle: handle, size: upload.size)
            return .reply(.status(id: id, code: .ok, message: "published transfer \(upload.transferID)"))
        case (.publish(let id, let handle, let upload), .duplicate):
            guard let existing = try view.transfer(id: upload.transferID) else {
                throw Refusal(.failure, Self.serverFailure, .serverError).with(reason: "a duplicate transfer that cannot be read")
            }
            return duplicate(handle, id: id, upload, existing)
        case (.publish(let id, let handle, let upload), .failed(.rejected(let reason))):
            return discard(handle, then: .refuse(rejection(id, reason, size: upload.size)))

        case (.discard(let then), _):
            return then
        case (.finishDownload(let id), .delivered):
            return .reply(.status(id: id, code: .ok, message: "delivered"))
        case (.finishDownload(let id), .released):
            return .reply(.status(id: id, code: .ok, message: ""))
        case (.revoke(let id, _), .done):
            return .reply(.status(id: id, code: .ok, message: ""))
        case (.revoke(_, let transferID), .failed(.refused(let code, let message))):
            let existing = try view.transfer(id: transferID)
            throw Refusal(code, message, existing.map { $0.sender == vendor ? .badRequest : .notYours } ?? .notFound, transferID: transferID)
        case (.statement(let id, let kind), .done):
            return .reply(.status(id: id, code: .ok, message: kind == .acknowledgment ? "acknowledged" : "declared"))
        case (_, .failed(.refused(let code, let message))):
            throw Refusal(code, message, .badRequest)
        default:
            throw Refusal(.failure, Self.serverFailure, .serverError).with(reason: "unexpected outcome \(outcome) for \(waiting)")
        }
    }

    static let serverFailure = "the server could not complete the request"

    /// The upload can no longer be published: its staged bytes go at once,
    /// and its handle stays only to answer later WRITEs and the CLOSE.
    private mutating func failUpload(_ handle: [UInt8], id: UInt32, _ message: String) -> SessionAction {
        guard case .upload(var progress)? = handles[handle]?.content else {
            return .refuse(rejection(id, message, size: nil))
        }
        progress.failure = message
        setHandle(handle, OpenHandle(kind: .outboxFile, content: .upload(progress)))
        return discard(handle, then: .refuse(rejection(id, message, size: progress.size)))
    }

    /// A validated upload whose transfer id is already in the store: the
    /// same sender with the same envelope is a retry (its reply was lost)
    /// and succeeds; anything else is a replay.
    private mutating func duplicate(_ handle: [UInt8], id: UInt32, _ upload: ValidatedUpload, _ existing: Transfer) -> SessionAction {
        if existing.sender == vendor, existing.ciphertextSHA256 == upload.sha256 {
            uploadPublished(handle: handle, size: upload.size)
            return discard(handle, then: .reply(.status(id: id, code: .ok, message: "transfer \(upload.transferID) was already published")))
        }
        return discard(
            handle,
            then: .refuse(
                rejection(
                    id, "transfer \(upload.transferID) was uploaded before; a replayed envelope is refused", size: upload.size, transferID: upload.transferID)))
    }

    /// A statement's checks: signed by this vendor's certified key, about a
    /// transfer this vendor sent (declaration) or received (acknowledgment).
    private func verify(_ draft: StatementDraft, view: some SessionView) throws -> StatementRecord {
        let id = draft.transferID
        switch draft.kind {
        case .acknowledgment:
            guard let ack = try? JSONDecoder().decode(Acknowledgment.self, from: Data(draft.bytes)), ack.transfer == id else {
                throw Refusal(.failure, "acknowledgment refused: it is not an acknowledgment of transfer \(id)", .badRequest, transferID: id)
            }
            guard let transfer = try view.transfer(id: id), transfer.recipient == vendor, transfer.state == .delivered else {
                throw Refusal(.failure, "acknowledgment refused: transfer \(id) was not delivered to you", .badRequest, transferID: id)
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
