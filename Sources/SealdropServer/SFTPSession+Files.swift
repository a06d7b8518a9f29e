import Foundation
import SealdropLog
import SealdropLayout
import SealdropSFTP
import SealdropStore
import SealdropTrust

extension SFTPSession {
    func open(_ path: VirtualPath, flags: SFTPOpenFlags) throws -> OpenHandle {
        let wantsWrite = !flags.isDisjoint(with: [.write, .append, .create, .truncate])
        switch path {
        case .inboxFile(let id) where !wantsWrite:
            for case .download(let open) in handles.values where open.transfer.id == id {
                throw Refusal(.failure, "transfer \(id) is already open in this session")
            }
            let now = Date()
            let transfer: Transfer
            do {
                transfer = try dropBox.store.claim(
                    id: id, recipient: vendor.name.value, session: sessionID, now: now,
                    event: event(.claimed, id))
            } catch {
                throw Refusal(error.code == .alreadyClaimed ? .failure : .noSuchFile, error.message)
            }
            do {
                return .download(DownloadState(transfer: transfer, fd: try dropBox.blobs.openBlob(transfer.blob)))
            } catch {
                try? dropBox.store.release(id: id, session: sessionID, event: event(.released, id))
                throw error
            }
        case .directoryFile(let name) where !wantsWrite:
            guard let file = directoryFile(name), let data = FileManager.default.contents(atPath: file) else {
                throw Refusal(.noSuchFile, "no such certificate")
            }
            return .memoryFile([UInt8](data))
        case .receiptFile(let id) where !wantsWrite:
            _ = try myTransfer(id)
            let receipt = try ReceiptLog(dropBox: dropBox).receipt(for: id)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            return .memoryFile([UInt8](try encoder.encode(receipt)))
        case .acknowledgment(let id) where wantsWrite && !flags.contains(.read):
            guard let transfer = try dropBox.store.transfer(id: id), transfer.recipient == vendor.name.value else {
                throw Refusal(.noSuchFile, "you received no transfer \(id)")
            }
            return .statement(StatementState(.acknowledgment, transferID: id))
        case .declaration(let id) where wantsWrite && !flags.contains(.read):
            guard let transfer = try dropBox.store.transfer(id: id), transfer.sender == vendor.name.value else {
                throw Refusal(.noSuchFile, "you sent no transfer \(id)")
            }
            return .statement(StatementState(.declaration, transferID: id))
        case .outboxFile(let recipient, _) where wantsWrite && !flags.contains(.read):
            _ = try outboxRecipient(recipient)
            let usage = try dropBox.store.pendingUsage(sender: vendor.name.value)
            guard usage.count < dropBox.configuration.maximumPendingPerVendor else {
                throw Refusal(.failure, "you already have \(usage.count) transfers waiting, the limit; wait for deliveries or revoke some")
            }
            let uploading = handles.values.filter { if case .upload = $0 { true } else { false } }.count
            guard uploading < Self.maximumUploadsPerSession else {
                throw Refusal(.failure, "\(uploading) uploads are already open in this session; finish one first")
            }
            let quota = dropBox.configuration.maximumStoredBytesPerVendor
            let (fd, stagingPath) = try dropBox.blobs.createStaging()
            return .upload(UploadState(recipient: recipient, fd: fd, path: stagingPath, quotaLeft: quota > usage.bytes ? quota - usage.bytes : 0))
        case .outboxFile:
            throw Refusal(.permissionDenied, "outboxes are write-only")
        case .inboxFile, .directoryFile, .sentFile, .receiptFile, .acknowledgment, .declaration:
            throw Refusal(.permissionDenied, "\(path.canonical) cannot be opened that way")
        default:
            throw Refusal(path.isDirectory ? .failure : .noSuchFile, "\(path.canonical) cannot be opened as a file")
        }
    }

    func read(_ raw: [UInt8], offset: UInt64, length: UInt32, id: UInt32) throws -> SFTPMessage {
        switch try lookup(raw) {
        case .memoryFile(let bytes):
            guard offset < UInt64(bytes.count) else { return .status(id: id, code: .eof, message: "end of file") }
            let end = min(bytes.count, Int(offset) + min(Int(length), Self.maximumReadLength))
            return .data(id: id, data: Array(bytes[Int(offset)..<end]))
        case .download(let state):
            guard state.transfer.expiresAt > Date() else {
                throw Refusal(.failure, "transfer \(state.transfer.id) has expired and is being deleted")
            }
            let size = state.transfer.size
            guard offset < size else { return .status(id: id, code: .eof, message: "end of file") }
            guard state.served.ranges.count < Self.maximumServedRanges else {
                throw Refusal(.failure, "reads are too scattered; read the file from start to end")
            }
            let count = Int(min(UInt64(min(Int(length), Self.maximumReadLength)), size - offset))
            var data = [UInt8](repeating: 0, count: count)
            let got = data.withUnsafeMutableBytes { pread(state.fd, $0.baseAddress, count, off_t(offset)) }
            guard got > 0 else { throw ServerIOError("read a stored transfer", errno) }
            data.removeLast(count - got)
            state.served.insert(offset..<(offset + UInt64(got)))
            state.unflushedBytes += UInt64(got)
            if state.unflushedBytes >= Self.servedFlushInterval { try flushServed(state) }
            return .data(id: id, data: data)
        default:
            throw Refusal(.permissionDenied, "this handle is not open for reading")
        }
    }

    func write(_ raw: [UInt8], offset: UInt64, data: [UInt8]) throws {
        let handle = try lookup(raw)
        if case .statement(let ack) = handle {
            let end = Int(clamping: offset) + data.count
            guard offset <= UInt64(ack.bytes.count), end <= ack.limit else {
                throw Refusal(.failure, "a signed statement is at most \(ack.limit) bytes, written from the start")
            }
            if end > ack.bytes.count { ack.bytes += [UInt8](repeating: 0, count: end - ack.bytes.count) }
            ack.bytes.replaceSubrange(Int(offset)..<end, with: data)
            return
        }
        guard case .upload(let state) = handle else { throw Refusal(.permissionDenied, "this handle is not open for writing") }
        let end = offset.addingReportingOverflow(UInt64(data.count))
        guard !end.overflow, end.partialValue <= dropBox.configuration.maximumFileSize else {
            throw Refusal(.failure, "the upload would exceed the limit of \(dropBox.configuration.maximumFileSize) bytes")
        }
        guard end.partialValue <= state.quotaLeft else {
            throw Refusal(.failure, "the upload would exceed your quota of \(dropBox.configuration.maximumStoredBytesPerVendor) bytes waiting")
        }
        // Writes may overlap or repeat but never leave a hole: a sparse file
        // would cost nothing to send and hashing its zeros would cost the server.
        guard offset <= state.size else {
            throw Refusal(.failure, "writes must be contiguous: offset \(offset) is past the \(state.size) bytes written so far")
        }
        var written = 0
        while written < data.count {
            let count = data.withUnsafeBytes { pwrite(state.fd, $0.baseAddress! + written, data.count - written, off_t(offset) + off_t(written)) }
            guard count > 0 else { throw ServerIOError("store an upload", errno) }
            written += count
        }
        state.size = max(state.size, end.partialValue)
    }

    /// Closes a handle; an upload is validated and published here, a
    /// fully served download delivered and its blob deleted.
    func close(_ raw: [UInt8]) throws -> String {
        let key = String(decoding: raw, as: UTF8.self)
        guard let handle = handles.removeValue(forKey: key) else { throw Refusal(.failure, "invalid handle") }
        switch handle {
        case .listing, .memoryFile:
            return ""
        case .upload(let state):
            return try publish(state)
        case .download(let state):
            return try finish(state)
        case .statement(let state):
            return state.kind == .acknowledgment ? try acknowledge(state) : try declare(state)
        }
    }

    func remove(_ path: VirtualPath) throws {
        guard case .sentFile(let id) = path else {
            throw Refusal(.permissionDenied, "only entries of /sent can be removed (that revokes the transfer)")
        }
        let now = Date()
        let transfer: Transfer
        do {
            transfer = try dropBox.store.revoke(id: id, sender: vendor.name.value, now: now, event: event(.revoked, id))
        } catch {
            throw Refusal(error.code == .notFound ? .noSuchFile : .failure, error.message)
        }
        dropBox.blobs.delete(transfer.blob)
        dropBox.record(event(.deleted, id, size: transfer.size, sha256: transfer.ciphertextSHA256, detail: "revoked by its sender"))
        dropBox.log("\(vendor.name) revoked transfer \(id)")
    }

    func abandon(_ handle: OpenHandle) {
        switch handle {
        case .upload(let state):
            state.discard()
        case .download(let state):
            // Every byte went out but the client vanished before CLOSE: that is
            // a delivery too, or "download once" could be had many times.
            _ = try? finish(state)
        case .listing, .memoryFile, .statement:
            break
        }
    }

    private func publish(_ state: UploadState) throws -> String {
        let now = Date()
        do {
            let trust = try dropBox.trustStore()
            // Certificates can be revoked while a session runs: check both again.
            let uploader = try trust.party(named: vendor.name, for: .sender, now: now)
            let recipient = try trust.party(named: try VendorName(state.recipient), for: .recipient, now: now)
            let accepted = try UploadValidator(configuration: dropBox.configuration)
                .validate(fd: state.fd, path: state.path, size: state.size, uploader: uploader, recipient: recipient, now: now)
            let usage = try dropBox.store.pendingUsage(sender: vendor.name.value)
            guard usage.bytes + accepted.size <= dropBox.configuration.maximumStoredBytesPerVendor else {
                throw UploadRejection("your waiting transfers would exceed the quota of \(dropBox.configuration.maximumStoredBytesPerVendor) bytes")
            }
            let blob = try dropBox.blobs.publish(stagingFD: state.fd, stagingPath: state.path)
            state.closeFile()
            let id = accepted.header.transferIDString
            let transfer = Transfer(
                id: id, sender: vendor.name.value, recipient: recipient.name.value, size: accepted.size, ciphertextSHA256: accepted.sha256,
                uploadedAt: now, expiresAt: Date(timeIntervalSince1970: TimeInterval(accepted.header.expires)), blob: blob)
            do {
                try dropBox.store.publish(
                    transfer,
                    event: event(
                        .uploadPublished, id, size: accepted.size, sha256: accepted.sha256, expires: transfer.expiresAt,
                        detail: "for \(recipient.name)"))
            } catch {
                dropBox.blobs.delete(blob)
                throw UploadRejection(error.code == .duplicateTransfer ? "transfer \(id) was uploaded before; a replayed envelope is refused" : "\(error)")
            }
            dropBox.log("\(vendor.name) published transfer \(id) for \(recipient.name) (\(accepted.size) bytes)")
            return "published transfer \(id)"
        } catch {
            state.discard()
            let reason = (error as? UploadRejection)?.reason ?? "\(error)"
            dropBox.record(event(.uploadRejected, nil, size: state.size, detail: reason))
            dropBox.log("\(vendor.name) upload rejected: \(reason)")
            throw Refusal(.failure, "upload rejected: \(reason)")
        }
    }

    /// A recipient's acknowledgment: signed by the logged-in recipient's
    /// certified key, for a transfer it received, naming that envelope's hash.
    private func acknowledge(_ state: StatementState) throws -> String {
        let id = state.transferID
        guard let ack = try? JSONDecoder().decode(Acknowledgment.self, from: Data(state.bytes)), ack.transfer == id else {
            throw Refusal(.failure, "acknowledgment refused: it is not an acknowledgment of transfer \(id)")
        }
        guard let transfer = try dropBox.store.transfer(id: id), transfer.recipient == vendor.name.value,
            transfer.state == .delivered
        else { throw Refusal(.failure, "acknowledgment refused: transfer \(id) was not delivered to you") }
        guard ack.ciphertextSHA256 == transfer.ciphertextSHA256 else {
            throw Refusal(.failure, "acknowledgment refused: it names another envelope than the one delivered")
        }
        guard ack.isSigned(by: vendor.key.signingKey) else {
            throw Refusal(.failure, "acknowledgment refused: its signature is not yours")
        }
        let detail = String(decoding: (try? JSONEncoder().encode(ack)) ?? Data(), as: UTF8.self)
        dropBox.record(event(.acknowledged, id, sha256: ack.ciphertextSHA256, detail: detail))
        dropBox.log("\(vendor.name) acknowledged transfer \(id)")
        return "acknowledged"
    }

    /// A sender's declaration: signed by the logged-in sender, for a transfer it sent.
    private func declare(_ state: StatementState) throws -> String {
        let id = state.transferID
        guard let declaration = try? JSONDecoder().decode(Declaration.self, from: Data(state.bytes)), declaration.transfer == id else {
            throw Refusal(.failure, "declaration refused: it is not a declaration for transfer \(id)")
        }
        if let problem = declaration.problem { throw Refusal(.failure, "declaration refused: \(problem)") }
        guard declaration.isSigned(by: vendor.key.signingKey) else { throw Refusal(.failure, "declaration refused: its signature is not yours") }
        let detail = String(decoding: (try? JSONEncoder().encode(declaration)) ?? Data(), as: UTF8.self)
        dropBox.record(event(.declared, id, detail: detail))
        return "declared"
    }

    private func finish(_ state: DownloadState) throws -> String {
        defer { Foundation.close(state.fd) }
        try flushServed(state)
        let id = state.transfer.id
        guard state.served.covers(state.transfer.size) else {
            try dropBox.store.release(id: id, session: sessionID, event: event(.released, id, detail: "\(state.served.totalBytes) bytes served"))
            return ""
        }
        let delivered = try dropBox.store.deliver(id: id, session: sessionID, now: Date(), event: event(.delivered, id, size: state.transfer.size))
        dropBox.blobs.delete(delivered.blob)
        dropBox.record(event(.deleted, id, size: delivered.size, sha256: delivered.ciphertextSHA256, detail: "delivered"))
        dropBox.log("\(vendor.name) received transfer \(id); its blob is deleted")
        return "delivered"
    }

    private func flushServed(_ state: DownloadState) throws {
        guard state.unflushedBytes > 0 else { return }
        try dropBox.store.recordServed(id: state.transfer.id, session: sessionID, ranges: state.served)
        state.unflushedBytes = 0
    }

    /// The trust store file behind `/directory/NAME` (the CA certificate,
    /// the revocation list, or `NAME.pem` of a vendor), if any.
    func directoryFile(_ name: String) -> String? {
        let trust = dropBox.configuration.trustDirectory
        if name == "ca.pem" || name == "revocations.crl" { return trust + "/" + name }
        guard name.hasSuffix(".pem"), VendorName.problem(with: String(name.dropLast(4))) == nil else { return nil }
        let path = trust + "/vendors/" + name
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The vendor an outbox belongs to: another valid vendor, never oneself.
    func outboxRecipient(_ name: String) throws -> VerifiedParty {
        guard name != vendor.name.value, let vendorName = try? VendorName(name),
            let party = try? dropBox.trustStore().party(named: vendorName, for: .recipient)
        else { throw Refusal(.noSuchFile, "there is no outbox for \"\(VendorName.printableName(name))\"") }
        return party
    }

    func event(
        _ kind: TransferEvent.Kind, _ id: String?, size: UInt64? = nil, sha256: String? = nil, expires: Date? = nil, detail: String = ""
    ) -> TransferEvent {
        TransferEvent(
            time: Date(), kind: kind, actor: vendor.name.value, sourceAddress: sourceAddress, transferID: id,
            size: size, ciphertextSHA256: sha256, expiresAt: expires, detail: detail)
    }
}
