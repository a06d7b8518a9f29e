import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropMetrics
import SealdropSFTP
import SealdropStore
import SealdropTrust

/// Performs what a session's rules decide: the one owner of its staging
/// files and blob descriptors, and the only part of a session that calls the
/// store, the blob store, the trust store and the file system. Each effect
/// returns an `EffectOutcome` for the rules; nothing here decides policy.
final class SessionDriver {
    let dropBox: DropBox
    let vendor: VerifiedParty
    let sourceAddress: String
    /// Random per session; names the download claim.
    let sessionID = Hex.encode(SecureRandom.bytes(12))
    private var downloads: [[UInt8]: BlobReader] = [:]
    private var uploads: [[UInt8]: StagedUpload] = [:]
    /// Why the last validation failed, for the rejection's metric label (the rules pass on only its text).
    var validationFailure: DropBoxMetrics.UploadRejection?

    init(dropBox: DropBox, vendor: VerifiedParty, sourceAddress: String) {
        self.dropBox = dropBox
        self.vendor = vendor
        self.sourceAddress = sourceAddress
    }

    deinit {
        for upload in uploads.values { upload.discard() }
    }

    var limits: UploadReservations.Limits {
        let configuration = dropBox.configuration
        return UploadReservations.Limits(
            maximumPending: configuration.maximumPendingPerVendor, maximumBytes: configuration.maximumStoredBytesPerVendor,
            maximumFileSize: configuration.maximumFileSize)
    }

    func perform(_ action: SessionAction) -> EffectOutcome {
        switch action {
        case .reply, .refuse: return .done
        case .claimDownload(let handle, let transferID): return claim(handle, transferID)
        case .readBlob(let handle, let offset, let count): return read(handle, offset: offset, count: count)
        case .recordServed(let transferID, let range):
            do {
                // One committed write, which also renews the claim's lease.
                try dropBox.recordServed(id: transferID, session: sessionID, ranges: ServedRanges([range]))
                dropBox.metrics.sent(bytes: range.count)
                return .done
            } catch {
                let message = error.code == .tooScattered ? error.message : "the download of transfer \(transferID) is no longer yours; open it again"
                return storeFailure(error, refusal: message)
            }
        case .renewClaim(let transferID):
            do {
                try dropBox.renewClaim(id: transferID, session: sessionID)
                return .done
            } catch {
                return storeFailure(error, refusal: "the download of transfer \(transferID) is no longer yours; open it again")
            }
        case .finishDownload(let handle, let transferID, let closed): return finish(handle, transferID, closed: closed)
        case .startUpload(let handle): return startUpload(handle)
        case .reserve(let handle, let bytes):
            guard let upload = uploads[handle] else { return .failed(.internalError("no staging file for this handle")) }
            do {
                return .reserved(
                    try dropBox.reservations.grow(upload.ticket, to: bytes, limits: limits) { try dropBox.store.pendingUsage(sender: vendor.name.value) })
            } catch let refused as UploadReservations.Refused {
                return .failed(.refused(.failure, refused.message))
            } catch {
                return .failed(.internalError("\(error)"))
            }
        case .writeStaged(let handle, let offset, let data): return write(handle, offset: offset, data: data)
        case .validateUpload(let handle, let recipient, let size): return validate(handle, recipient: recipient, size: size)
        case .publishUpload(let handle, let upload): return publish(handle, upload)
        case .discardUpload(let handle):
            CrashPoint.rejectStaged.reached()
            uploads.removeValue(forKey: handle)?.discard()
            CrashPoint.rejectDiscarded.reached()
            return .done
        case .revoke(let transferID): return revoke(transferID)
        case .recordStatement(let statement):
            let what = statement.kind == .acknowledgment ? "acknowledgment" : "declaration"
            // A signed statement exists only as its log entry: if that cannot
            // be written, the client must not be told it was recorded.
            do {
                let recorded = event(
                    statement.kind == .acknowledgment ? .acknowledged : .declared, statement.transferID, sha256: statement.sha256,
                    detail: statement.detail)
                let fresh = try dropBox.recordStatementOnce(recorded) { () throws(StoreError) in
                    if statement.kind == .acknowledgment {
                        // The recipient's signature over the envelope's hash: a delivery at once if none was counted yet.
                        try dropBox.acknowledgeDelivery(
                            id: statement.transferID, recipient: vendor.name.value, source: sourceAddress, acknowledgment: recorded)
                    } else {
                        try dropBox.recordOrFail(recorded)
                    }
                }
                guard fresh else {
                    return .failed(
                        .refused(
                            .failure,
                            "transfer \(statement.transferID) already has your \(what) in the log; a signed statement is recorded once per transfer"))
                }
            } catch {
                dropBox.log("cannot record the \(what) of transfer \(statement.transferID): \(error)")
                return .failed(.refused(.failure, "the drop box could not record your \(what); nothing was logged, send it again later"))
            }
            dropBox.log("\(vendor.name) \(statement.kind == .acknowledgment ? "acknowledged" : "declared") transfer \(statement.transferID)")
            return .done
        }
    }

    /// Every refusal the rules decide goes through here: a rejected upload
    /// is its own receipt-log event; the others are recorded by kind,
    /// aggregated per source (`DropBox.recordRefusal`); server failures are logged.
    func recordRefusal(_ refusal: RefusalRecord) {
        let kind: TransferEvent.Kind
        switch refusal.kind {
        case .uploadRejected:
            dropBox.recordRejectedUpload(event(.uploadRejected, refusal.transferID, size: refusal.size, detail: refusal.reason))
            dropBox.metrics.uploadRejected(rejectionKind(refusal.reason))
            dropBox.log("\(vendor.name) upload rejected: \(refusal.reason)")
            return
        case .serverError:
            dropBox.log("\(vendor.name): \(refusal.reason)")
            return
        case .alreadyRefused, .notFound:
            return
        case .operationDenied, .badRequest: kind = .refusedOperation
        case .notYours, .trustRefused: kind = .refusedAuthorization
        case .limitReached: kind = .refusedOpen
        case .downloadRefused: kind = .refusedClaim
        }
        let subject = refusal.transferID.map { "transfer \($0): " } ?? ""
        dropBox.recordRefusal(kind: kind, actor: vendor.name.value, source: sourceAddress, detail: subject + refusal.reason)
    }

    private func claim(_ handle: [UInt8], _ transferID: String) -> EffectOutcome {
        // Taken before the store is asked, in one step with its check, so
        // concurrent sessions of the vendor cannot overshoot; given back if refused.
        guard let reserved = dropBox.claimBudget.reserve(vendor: vendor.name.value, transferID: transferID, now: Date()) else {
            return .failed(
                .refused(.failure, "transfer \(transferID) was opened \(ClaimBudget.claimsPerWindow) times in the last minute; wait a minute"))
        }
        let transfer: Transfer
        let started = ContinuousClock.now
        do {
            transfer = try dropBox.store.claim(
                id: transferID, recipient: vendor.name.value, session: sessionID, now: Date(), event: event(.claimed, transferID))
            dropBox.metrics.claimGranted(after: ContinuousClock.now - started)
        } catch {
            // Refused opens are aggregated refusals already: they use up no claim.
            dropBox.claimBudget.refund(vendor: vendor.name.value, transferID: transferID, time: reserved)
            return storeFailure(error, refusal: error.message, code: error.code == .alreadyClaimed ? .failure : .noSuchFile)
        }
        do {
            downloads[handle] = BlobReader(fd: try dropBox.blobs.openBlob(transfer.blob))
            return .claimed(transfer)
        } catch {
            try? dropBox.store.release(id: transferID, session: sessionID, event: event(.released, transferID))
            return .failed(.internalError("\(error)"))
        }
    }

    private func read(_ handle: [UInt8], offset: UInt64, count: Int) -> EffectOutcome {
        // The rules bound both; checked again so no number can trap or over-allocate here.
        guard let reader = downloads[handle], let start = off_t(exactly: offset), count > 0, count <= SessionRules.maximumReadLength else {
            return .failed(.internalError("a read outside what was claimed"))
        }
        // pread fills the array directly, and only its filled part counts:
        // zeroing it first was a whole extra pass over every byte served.
        var failure: Int32 = 0
        let data = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var got = 0
            while got < count {
                let n = pread(reader.fd, buffer.baseAddress! + got, count - got, start + off_t(got))
                if n < 0, errno == EINTR { continue }
                if n < 0 { failure = errno }
                guard n > 0 else { break }
                got += n
            }
            initialized = got
        }
        guard !data.isEmpty else {
            return .failed(.internalError("cannot read a stored transfer: \(failure == 0 ? "it ends early" : String(cString: strerror(failure)))"))
        }
        return .bytes(data)
    }

    private func finish(_ handle: [UInt8], _ transferID: String, closed: Bool) -> EffectOutcome {
        downloads.removeValue(forKey: handle)?.close()
        do {
            guard closed else {
                // Lost without CLOSE: nothing says the client kept what it was sent.
                dropBox.abandonDownload(id: transferID, session: sessionID, event: event(.released, transferID))
                return .released
            }
            let ended = try dropBox.closeDownload(id: transferID, session: sessionID, actor: vendor.name.value, source: sourceAddress)
            return ended.state == .delivered ? .delivered : .released
        } catch {
            return storeFailure(error, refusal: error.message)
        }
    }

    private func startUpload(_ handle: [UInt8]) -> EffectOutcome {
        let ticket: UploadReservations.Ticket
        do {
            ticket = try dropBox.reservations.open(vendor: vendor.name.value, limits: limits) { try dropBox.store.pendingUsage(sender: vendor.name.value) }
        } catch let refused as UploadReservations.Refused {
            return .failed(.refused(.failure, refused.message))
        } catch {
            return .failed(.internalError("\(error)"))
        }
        do {
            let (fd, path) = try dropBox.blobs.createStaging()
            uploads[handle] = StagedUpload(fd: fd, path: path, ticket: ticket, reservations: dropBox.reservations)
            return .done
        } catch {
            dropBox.reservations.release(ticket)
            return ioFailure(error)
        }
    }

    private func write(_ handle: [UInt8], offset: UInt64, data: [UInt8]) -> EffectOutcome {
        guard let upload = uploads[handle], let start = off_t(exactly: offset), upload.fd >= 0 else {
            return .failed(.internalError("a write to no staging file"))
        }
        var written = 0
        while written < data.count {
            let n = data.withUnsafeBytes { pwrite(upload.fd, $0.baseAddress! + written, data.count - written, start + off_t(written)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                let code = n < 0 ? errno : ENOSPC
                return ioFailure(ServerIOError("store an upload", code))
            }
            written += n
        }
        dropBox.metrics.received(bytes: data.count)
        return .done
    }

    private func validate(_ handle: [UInt8], recipient: String, size: UInt64) -> EffectOutcome {
        guard let upload = uploads[handle] else { return .failed(.internalError("no staging file for this handle")) }
        let now = Date()
        do {
            let trust = try dropBox.trustStore()
            // Certificates can be revoked while a session runs: both are checked again.
            let uploader = try trust.party(named: vendor.name, for: .sender, now: now)
            let them = try trust.party(named: try VendorName(recipient), for: .recipient, now: now)
            let accepted = try UploadValidator(configuration: dropBox.configuration)
                .validate(fd: upload.fd, path: upload.path, size: size, uploader: uploader, recipient: them, now: now)
            return .validated(
                ValidatedUpload(
                    transferID: accepted.header.transferIDString, size: accepted.size, sha256: accepted.sha256,
                    expiresAt: Date(timeIntervalSince1970: TimeInterval(accepted.header.expires)), recipient: them.name.value))
        } catch let rejection as UploadRejection {
            validationFailure = .envelope
            return .failed(.rejected(rejection.reason))
        } catch {
            validationFailure = error is TrustError ? .certificate : .other
            return .failed(.rejected("\(error)"))
        }
    }

    private func publish(_ handle: [UInt8], _ upload: ValidatedUpload) -> EffectOutcome {
        guard let staged = uploads[handle] else { return .failed(.internalError("no staging file for this handle")) }
        let blob: String
        do {
            blob = try dropBox.blobs.publish(stagingFD: staged.fd, stagingPath: staged.path)
        } catch {
            return ioFailure(error)
        }
        staged.closeFile()
        let now = Date()
        let transfer = Transfer(
            id: upload.transferID, sender: vendor.name.value, recipient: upload.recipient, size: upload.size, ciphertextSHA256: upload.sha256,
            uploadedAt: now, expiresAt: upload.expiresAt, blob: blob)
        do {
            try dropBox.store.publish(
                transfer,
                event: event(
                    .uploadPublished, upload.transferID, size: upload.size, sha256: upload.sha256, expires: upload.expiresAt, detail: "for \(upload.recipient)")
            )
        } catch {
            dropBox.blobs.delete(blob)
            return error.code == .duplicateTransfer ? .duplicate : .failed(.internalError("\(error)"))
        }
        // The store counts it now: the reservation can go.
        uploads.removeValue(forKey: handle)?.discard()
        dropBox.metrics.uploadPublished()
        dropBox.log("\(vendor.name) published transfer \(upload.transferID) for \(upload.recipient) (\(upload.size) bytes)")
        return .published
    }

    private func revoke(_ transferID: String) -> EffectOutcome {
        do {
            // Revoked and deleted in one transaction, then the blob unlinked.
            _ = try dropBox.revoke(id: transferID, sender: vendor.name.value, source: sourceAddress)
            return .done
        } catch {
            return storeFailure(error, refusal: error.message, code: error.code == .notFound ? .noSuchFile : .failure)
        }
    }

    /// A store refusal the vendor may hear about, or a database failure it may not.
    private func storeFailure(_ error: StoreError, refusal: String, code: SFTPStatusCode = .failure) -> EffectOutcome {
        error.code == .database ? .failed(.internalError(error.message)) : .failed(.refused(code, refusal))
    }

    /// A full disk (or file-system quota) is its own outcome; anything else is internal.
    private func ioFailure(_ error: any Error) -> EffectOutcome {
        if let io = error as? ServerIOError, io.code == ENOSPC || io.code == EDQUOT { return .failed(.outOfSpace) }
        return .failed(.internalError("\(error)"))
    }

    func event(
        _ kind: TransferEvent.Kind, _ id: String?, size: UInt64? = nil, sha256: String? = nil, expires: Date? = nil, detail: String = ""
    ) -> TransferEvent {
        TransferEvent(
            time: Date(), kind: kind, actor: vendor.name.value, sourceAddress: sourceAddress, transferID: id,
            size: size, ciphertextSHA256: sha256, expiresAt: expires, detail: detail)
    }
}

/// A download's blob, open for reading; closed once, by its owner.
final class BlobReader {
    private(set) var fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close()
    }

    func close() {
        guard fd >= 0 else { return }
        Foundation.close(fd)
        fd = -1
    }
}

/// An upload's staging file and its reservation. The descriptor is closed
/// exactly once (-1 after): a number closed twice could belong to another
/// session by then.
final class StagedUpload {
    private(set) var fd: Int32
    let path: String
    let ticket: UploadReservations.Ticket
    private let reservations: UploadReservations

    init(fd: Int32, path: String, ticket: UploadReservations.Ticket, reservations: UploadReservations) {
        self.fd = fd
        self.path = path
        self.ticket = ticket
        self.reservations = reservations
    }

    func closeFile() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    /// Drops the staged bytes (a no-op for the name once it was published)
    /// and the reservation.
    func discard() {
        closeFile()
        unlink(path)
        reservations.release(ticket)
    }
}
