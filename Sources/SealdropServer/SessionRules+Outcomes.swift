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
            setHandle(handle, OpenHandle(kind: .inboxFile, content: .download(DownloadProgress(transfer: transfer, served: ServedRanges(), renewedAt: now))))
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
            let existing: Transfer?
            do {
                existing = try view.transfer(id: upload.transferID)
            } catch {
                // The handle is closed: nothing can publish these bytes now.
                return discard(handle, then: .refuse(serverFailure(id, "cannot look up transfer \(upload.transferID): \(error)")))
            }
            if let existing { return duplicate(handle, id: id, upload, existing) }
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
            guard let existing = try? view.transfer(id: upload.transferID) else {
                return discard(handle, then: .refuse(serverFailure(id, "a duplicate of transfer \(upload.transferID) that cannot be read")))
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
    static let replayRefused = "was uploaded before; a replayed envelope is refused"

    /// A server failure for request `id`, its cause kept for the log.
    func serverFailure(_ id: UInt32, _ reason: String) -> SessionRefusal {
        SessionRefusal(id: id, code: .failure, message: Self.serverFailure, record: RefusalRecord(kind: .serverError, transferID: nil, reason: reason))
    }

    /// The upload can no longer be published: its staged bytes go at once,
    /// and its handle stays only to answer later WRITEs and the CLOSE.
    mutating func failUpload(_ handle: [UInt8], id: UInt32, _ message: String) -> SessionAction {
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
    mutating func duplicate(_ handle: [UInt8], id: UInt32, _ upload: ValidatedUpload, _ existing: Transfer) -> SessionAction {
        if existing.sender == vendor, existing.ciphertextSHA256 == upload.sha256 {
            uploadPublished(handle: handle, size: upload.size)
            return discard(handle, then: .reply(.status(id: id, code: .ok, message: "transfer \(upload.transferID) was already published")))
        }
        return discard(
            handle,
            then: .refuse(
                rejection(
                    id, "transfer \(upload.transferID) " + Self.replayRefused, size: upload.size, transferID: upload.transferID)))
    }
}
