import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropKeys
import SealdropLog
import SealdropStore
import SealdropTrust

/// `sealdropd restore`: puts a metadata backup back without ever making a
/// delivered, revoked or expired transfer available again, even from a
/// backup taken before it ended.
///
/// What happened after the backup is read from the newest record there is:
/// the current database when it still opens (its rows replace the
/// backup's), log exports (`sealdropd log export`), and the largest tree
/// head the drop box handed out (`log-head.json` in the data directory) or
/// one a vendor or auditor kept. Entries after the backup's are appended to
/// the restored log verbatim, so the log goes on where vendors saw it.
/// Then every pending transfer is decided (`RestoreDecision`): ended in
/// those entries, its file gone, claimed since the backup, or of unknown
/// fate because entries are lost: each ends (its blob deleted); only a
/// transfer the record shows untouched since the backup stays available.
///
/// Nothing is taken on trust: every tree head (an export's, the kept one,
/// one given) must be signed by this drop box's receipt key or a
/// predecessor the trust store certifies, every export's entries must be
/// exactly those its head covers, and the server must be stopped (no node
/// lock held). Any doubt refuses the restore with nothing changed.
public struct DropBoxRestore {
    public let configuration: DropBoxConfiguration
    /// Log exports holding entries after the backup's (`readExport`).
    public var logExports: [LogExportFile] = []
    /// Tree heads known to have been handed out (a vendor's, an auditor's), with where each came from.
    public var heads: [(name: String, head: SignedTreeHead)] = []
    /// With entries known to be lost: end every pending transfer rather than refuse.
    public var acceptLostEntries = false
    let log: (String) -> Void

    public init(configuration: DropBoxConfiguration, log: @escaping (String) -> Void = { _ in }) {
        self.configuration = configuration
        self.log = log
    }

    /// What a restore did.
    public struct Report: Sendable {
        public var backupEntries = 0
        public var appendedEntries = 0
        public var logSize = 0
        public var adoptedFromCurrent = 0
        public var kept = 0
        /// Transfer id → why it ended.
        public var ended: [String: String] = [:]
        /// Where the database that was replaced now is, if there was one.
        public var replacedDatabase: String?
    }

    /// One `sealdropd log export` file, read whole (a restore holds the log anyway).
    public struct LogExportFile: Sendable {
        public var name: String
        public var header: LogExport.Header
        public var entries: [[UInt8]]

        public init(name: String, header: LogExport.Header, entries: [[UInt8]]) {
            self.name = name
            self.header = header
            self.entries = entries
        }
    }

    /// Reads the export at `path`; checked against its head by `run`.
    public static func readExport(path: String) throws -> LogExportFile {
        do {
            let reader = try LogExportReader(path: path)
            var entries: [[UInt8]] = []
            try reader.forEachEntry { entries.append($0) }
            return LogExportFile(name: path, header: reader.header, entries: entries)
        } catch let error as LogExportError {
            throw RestoreError("\(path) is not a log export (sealdropd log export): \(error.message)")
        }
    }

    /// Restores `backup` into the data directory (the server must be stopped).
    public func run(backup: String, now: Date = Date()) throws -> Report {
        let locks = try lockNodes()
        defer { for fd in locks { close(fd) } }
        let keys = ReceiptKeys(configuration: configuration, now: now)
        let exportHeads = try logExports.map { try keys.verify(export: $0) }
        for (name, head) in heads where !keys.signed(head) {
            throw RestoreError(
                "the tree head in \(name) (size \(head.size)) is not signed by this drop box's receipt key nor by an earlier one the trust store certifies: it is forged or of another drop box; leave it out"
            )
        }
        let keptPath = configuration.dataDirectory + "/" + DropBox.logHeadFile
        var kept: KeptLogHead?
        if let data = FileManager.default.contents(atPath: keptPath) {
            guard let head = try? KeptLogHead.decode(data), keys.signed(head.treeHead) else {
                throw RestoreError(
                    "\(keptPath) is not a tree head signed by this drop box's receipt key nor by an earlier one the trust store certifies; if it is not this drop box's, move it aside (and give the drop box's own with --log-head)"
                )
            }
            kept = head
        }
        var report = Report()
        let database = configuration.databasePath
        let restoring = database + ".restoring"
        for suffix in ["", "-wal", "-shm"] { unlink(restoring + suffix) }
        guard FileManager.default.fileExists(atPath: backup) else { throw RestoreError("there is no backup file \(backup)") }
        try copyFile(backup, to: restoring)
        let restored: SQLiteTransferStore
        do {
            restored = try SQLiteTransferStore(path: restoring)
        } catch {
            unlink(restoring)
            throw RestoreError("\(backup) is not a sealdrop metadata backup: \(error)")
        }
        var committed = false
        defer {
            if !committed {
                try? restored.close()
                for suffix in ["", "-wal", "-shm"] { unlink(restoring + suffix) }
            }
        }
        let backupEntries = try restored.logEntries()
        report.backupEntries = backupEntries.count

        // The newest record of what happened after the backup.
        var later = [[UInt8]]()
        var currentRows = [Transfer]()
        if FileManager.default.fileExists(atPath: database) {
            do {
                let current = try SQLiteTransferStore(path: database)
                let entries = try current.logEntries()
                try Self.checkExtends(entries, backupEntries, what: "the current database \(database)")
                later = Array(entries.dropFirst(backupEntries.count))
                currentRows = try current.allTransfers()
                try current.close()
            } catch let error as RestoreError {
                throw error
            } catch {
                log("restore: the current database does not open (\(error)); relying on log exports and heads")
            }
        }
        for export in logExports {
            let entries = export.entries
            try Self.checkExtends(entries, backupEntries, what: "the log export \(export.name)")
            let extra = Array(entries.dropFirst(backupEntries.count))
            if extra.count > later.count {
                guard Array(extra.prefix(later.count)) == later else { throw RestoreError("a log export and the current database disagree") }
                later = extra
            }
        }
        let all = backupEntries + later
        let hashes = all.map(MerkleTree.leafHash)
        var keptHeads = heads.map(\.head) + exportHeads
        if let kept {
            keptHeads.append(kept.treeHead)
            if let first = all.first, let anchor = kept.firstLeaf, Hex.encode(MerkleTree.leafHash(first)) != anchor {
                throw RestoreError(
                    "the backup's log does not begin with the first entry of this drop box's log (\(keptPath)): the backup is not of this drop box")
            }
        }
        let lost = keptHeads.map(\.size).max().map { $0 > all.count } ?? false
        for head in keptHeads where head.size <= all.count {
            guard Hex.encode(MerkleTree.root(hashes[..<head.size])) == head.root else {
                throw RestoreError("the tree head of size \(head.size) does not match this log: the backup is not of this drop box")
            }
        }
        if lost, !acceptLostEntries {
            let size = keptHeads.map(\.size).max() ?? 0
            throw RestoreError(
                "the drop box handed out a log of \(size) entries, but the backup and the records found hold \(all.count): what happened to its transfers after the backup is unknown. Give the newest log export (--log) or pass --end-pending to end every pending transfer"
            )
        }

        try restored.appendVerbatim(later)
        report.appendedEntries = later.count
        // Rows of the newer database are newer facts (served bytes, ends).
        let backupIDs = Set(try restored.allTransfers().map(\.id))
        try restored.adopt(currentRows)
        report.adoptedFromCurrent = currentRows.count
        let adopted = Set(currentRows.map(\.id))

        let entries = try later.map { bytes in try LogEntry(decoding: bytes) }
        // Transfers published after the backup with no row anywhere: their
        // blob cannot be told apart from an orphan, so they end here (and
        // their ids stay known, so a replay is still refused).
        for entry in entries where entry.kind == .uploadPublished {
            guard let id = entry.transfer, !backupIDs.contains(id), !adopted.contains(id) else { continue }
            try restored.adopt([
                Transfer(
                    id: id, sender: entry.actor, recipient: entry.recipient ?? "", size: entry.size ?? 0, ciphertextSHA256: entry.sha256 ?? "",
                    uploadedAt: entry.date, expiresAt: entry.expires.map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) } ?? now,
                    blob: "lost-in-restore-\(id)")
            ])
        }
        let pending = try restored.pendingTransfers()
        for transfer in pending {
            let decision = RestoreDecision.decide(
                transfer, laterEntries: entries, rowIsCurrent: adopted.contains(transfer.id), entriesLost: lost,
                blobExists: FileManager.default.fileExists(atPath: configuration.blobDirectory + "/" + transfer.blob))
            switch decision {
            case .keep:
                report.kept += 1
            case .endedInLog(let state, let time):
                try restored.endForRestore(id: transfer.id, state: state, at: time, events: [])
                removeBlob(transfer.blob)
                report.ended[transfer.id] = "it \(state.rawValue) after the backup (the log says so)"
            case .end(let reason):
                try restored.endForRestore(
                    id: transfer.id, state: .expired, at: now,
                    events: [
                        TransferEvent(
                            time: now, kind: .expired, actor: "server", sourceAddress: "", transferID: transfer.id, size: transfer.size,
                            ciphertextSHA256: transfer.ciphertextSHA256, detail: "ended by a restore: \(reason)"),
                        TransferEvent(
                            time: now, kind: .deleted, actor: "server", sourceAddress: "", transferID: transfer.id, size: transfer.size,
                            ciphertextSHA256: transfer.ciphertextSHA256, detail: "ended by a restore"),
                    ])
                removeBlob(transfer.blob)
                report.ended[transfer.id] = reason
            }
        }
        // Whatever ended keeps no file (one put back from a file-system
        // snapshot, say); pending ones keep theirs.
        for transfer in try restored.allTransfers() where !TransferState.pending.contains(transfer.state) {
            removeBlob(transfer.blob)
        }
        report.logSize = try restored.logEntries().count
        try restored.close()

        // Into place: the replaced database is kept beside it, for the record.
        if FileManager.default.fileExists(atPath: database) {
            let stamp = Int(now.timeIntervalSince1970)
            let aside = database + ".replaced-\(stamp)"
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database + suffix) {
                guard rename(database + suffix, aside + suffix) == 0 else {
                    throw RestoreError("cannot move \(database + suffix) aside: \(String(cString: strerror(errno)))")
                }
            }
            report.replacedDatabase = aside
        }
        // `close` checkpointed: the write-ahead log is empty, the file whole.
        for suffix in ["-wal", "-shm"] { unlink(restoring + suffix) }
        guard rename(restoring, database) == 0 else { throw RestoreError("cannot move the restored database into place: \(String(cString: strerror(errno)))") }
        committed = true
        return report
    }

    /// Unlinks a blob by name; a name that is not a plain file name (never
    /// one the server made) is left alone.
    private func removeBlob(_ name: String) {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { return }
        unlink(configuration.blobDirectory + "/" + name)
    }

    /// `entries` must begin with the backup's log, byte for byte.
    static func checkExtends(_ entries: [[UInt8]], _ backup: [[UInt8]], what: String) throws {
        guard entries.count >= backup.count, Array(entries.prefix(backup.count)) == backup else {
            throw RestoreError(
                "\(what) does not continue the backup's log (\(entries.count) entries against the backup's \(backup.count)): the backup is newer, or not of this drop box"
            )
        }
    }

    /// Takes every node lock in the nodes directory (and this node's),
    /// held until the restore ends: a running `serve` or a named node's
    /// `sftp-subsystem` holds one, and would go on writing to the database
    /// being replaced, its records then lost.
    private func lockNodes() throws -> [Int32] {
        let directory = configuration.nodesDirectory
        var names = Set((try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".lock") } ?? [])
        if FileManager.default.fileExists(atPath: directory) { names.insert(configuration.nodeLockName) }
        var held: [Int32] = []
        for name in names.sorted() {
            let path = directory + "/" + name
            let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                for other in held { close(other) }
                throw RestoreError("cannot open the node lock \(path): \(String(cString: strerror(errno)))")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                for other in held { close(other) }
                throw RestoreError(
                    "a sealdropd process holds \(path): the server (or a node of it) is running on this data directory; stop every sealdropd serve and sftp-subsystem using it, then restore"
                )
            }
            held.append(fd)
        }
        return held
    }

    private func copyFile(_ source: String, to target: String) throws {
        do {
            try FileManager.default.copyItem(atPath: source, toPath: target)
            chmod(target, 0o600)
        } catch {
            throw RestoreError("cannot copy \(source) to \(target): \(error.localizedDescription)")
        }
    }
}

/// What a restore does with one pending transfer of the restored database.
public enum RestoreDecision: Equatable, Sendable {
    case keep
    /// The log after the backup ends it: set that state, add nothing.
    case endedInLog(TransferState, Date)
    /// End it (expired), with the reason on the record.
    case end(String)

    /// Conservative by design: a transfer stays available only if nothing
    /// says it could have been served, revoked or expired since the backup.
    public static func decide(_ transfer: Transfer, laterEntries: [LogEntry], rowIsCurrent: Bool, entriesLost: Bool, blobExists: Bool) -> RestoreDecision {
        let mine = laterEntries.filter { $0.transfer == transfer.id }
        if let end = mine.first(where: { $0.kind.endsTransfer }) {
            let state: TransferState = end.kind == .delivered ? .delivered : end.kind == .revoked ? .revoked : .expired
            return .endedInLog(state, end.date)
        }
        if !blobExists { return .end("its file is gone, so it ended after the backup") }
        if rowIsCurrent { return .keep }
        if entriesLost { return .end("log entries after the backup are lost, so whether it was delivered is unknown") }
        if transfer.state == .claimed || mine.contains(where: { $0.kind == .claimed }) {
            return .end("it was being downloaded after the backup and how much went out is unknown")
        }
        return .keep
    }
}

public struct RestoreError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// This drop box's receipt keys: the current one (its key file) and every
/// server certificate the trust store holds and certifies for the server
/// role, the keys used before a `sealdropd log rotate-key` among them.
struct ReceiptKeys {
    let current: Ed25519PublicKey?
    let trust: TrustStore?
    let certified: [VendorCertificate]

    init(configuration: DropBoxConfiguration, now: Date) {
        let path = configuration.receiptKeyPath ?? configuration.dataDirectory + "/" + ReceiptLog.keyFile
        current = (try? VendorIdentity.load(path: path, passphrase: .none))?.publicKey.signingKey
        trust = try? TrustStore.load(directory: configuration.trustDirectory, now: now)
        certified = trust?.serverCertificates() ?? []
    }

    /// The keys the CA vouched for (server role) when `time` was.
    private func keys(at time: Date) -> [Ed25519PublicKey] {
        guard let trust else { return [] }
        let verifier = trust.verifier(now: time)
        return certified.compactMap { try? verifier.verify($0, for: .server).key.signingKey }
    }

    /// Whether this drop box signed `head`.
    func signed(_ head: SignedTreeHead) -> Bool {
        (current.map { head.isSigned(by: $0) } ?? false) || keys(at: head.time).contains { head.isSigned(by: $0) }
    }

    /// Checks an export whole before anything is taken from it: its
    /// certificate chains to the trust store's CA (server role) and holds
    /// one of this drop box's keys, and `AuditVerifier` finds its head
    /// signed by it over exactly these entries. Returns the head.
    func verify(export: DropBoxRestore.LogExportFile) throws -> SignedTreeHead {
        let head = export.header.treeHead
        guard let trust else {
            throw RestoreError("cannot check the log export \(export.name): the trust store does not load, so its receipt-key certificate cannot be verified")
        }
        let key: Ed25519PublicKey
        do {
            let certificate = try VendorCertificate(pem: export.header.serverCertificate, source: "the server certificate of \(export.name)")
            key = try trust.verifier(now: head.time).verify(certificate, for: .server).key.signingKey
        } catch {
            throw RestoreError("the log export \(export.name) carries no receipt-key certificate the CA vouches for: \(error)")
        }
        guard key == current || keys(at: head.time).contains(key) else {
            throw RestoreError(
                "the log export \(export.name) is signed by a receipt key that is neither this drop box's nor one the trust store certifies for it: it is of another drop box"
            )
        }
        let structural: Set<AuditVerifier.Problem.Code> = [.headSignature, .headSize, .headRoot, .entryMalformed, .sequenceGap]
        let problems = AuditVerifier(serverKey: key, vendorKeys: [:], grace: 0).verify(entries: export.entries, head: head)
            .filter { structural.contains($0.code) }
        if let problem = problems.first {
            throw RestoreError(
                "the log export \(export.name) does not match its own signed tree head (\(problem)): it was cut short, altered or added to; give a whole export"
            )
        }
        return head
    }
}
