import Foundation
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropLayout
import SealdropTrust

/// What happens during a receive, for the caller to show.
public enum ReceiveEvent: Sendable {
    /// A part file from an earlier run is continued.
    case resuming(at: UInt64, of: UInt64)
    /// The drop box no longer offers the transfer, but the part file holds
    /// an earlier complete download: it is opened instead.
    case alreadyDelivered
    case progress(UInt64, of: UInt64)
}

/// A transfer received, verified and written.
public struct ReceivedTransfer: Sendable {
    public let id: String
    public let sender: String
    public let description: FileDescription
    public let plaintextSize: UInt64
    /// Where the plaintext was written (folder and name, for messages).
    public let output: String
    /// Why the acknowledgment was not recorded, or nil when it was.
    public let acknowledgmentFailure: String?
}

extension DropBoxClient {
    /// The largest transfer `download` accepts unless told otherwise: the
    /// drop box's own default upload limit. The size comes from the drop
    /// box, which could claim 2^64−1 bytes to fill the disk, and the
    /// envelope says its length only at its end.
    public static let defaultMaximumDownloadSize: UInt64 = 64 << 30

    /// Downloads transfer `id` into the private file `part` of `folder`,
    /// resuming from what it already holds. Nothing the drop box says picks
    /// the file: `part` is the caller's name, created with `openat`,
    /// `O_NOFOLLOW`, mode 0600. Refused before any byte is fetched: an id
    /// this profile has already received (a replay), a size over
    /// `maximumSize` or over the folder's free space, a folder others may
    /// swap files in, a part file that is not privately yours, holds the
    /// start of another transfer, or is longer than the size now claimed
    /// (it is kept as it is). A download that advances by less than a
    /// block within the timeout is given up (`ProgressFloor`).
    public func download(
        _ id: String, into folder: OutputDirectory, part: String, journal: ReceivedJournal,
        maximumSize: UInt64 = defaultMaximumDownloadSize, events: (ReceiveEvent) -> Void = { _ in }
    ) throws {
        _ = try fetch(id, into: folder, part: part, journal: journal, maximumSize: maximumSize, events: events, teeTo: nil)
    }

    /// `download`, returning false when the drop box no longer offers the
    /// transfer and an earlier complete download is kept in `part`. With
    /// `teeTo`, every byte of the envelope also goes to the pipe it
    /// returns (given the part file's length before the download): the
    /// pipe ends after the part file is complete and synchronised, or
    /// fails with the download's error. It is called once the part file
    /// passed every check, before any byte is fetched.
    func fetch(
        _ id: String, into folder: OutputDirectory, part: String, journal: ReceivedJournal, maximumSize: UInt64,
        events: (ReceiveEvent) -> Void, teeTo: ((UInt64) throws -> BytePipe)?
    ) throws -> Bool {
        let id = try Self.checked(id)
        if journal.contains(id) {
            throw DropBoxError(
                .replayed,
                "the drop box offers transfer \(id), which this profile received already (\(journal.file)): an old transfer served again; nothing was downloaded"
            )
        }
        if let problem = try folder.sharedWritableProblem() {
            throw DropBoxError(
                .localState, "\(folder.path) is not safe to receive into: \(problem), so someone could swap the files in it; choose a private folder")
        }
        guard let size = try waitingSize(id) else {
            // Only a part file of ours, private, counts as an earlier download.
            if let existing = try folder.status(part), existing.st_mode & S_IFMT == S_IFREG, existing.st_size > 0, existing.st_uid == geteuid(),
                existing.st_mode & 0o077 == 0
            {
                events(.alreadyDelivered)
                return false
            }
            throw DropBoxError(.notFound, "no transfer \(id) is waiting for you")
        }
        guard size <= maximumSize else {
            throw DropBoxError(
                .tooLarge, "the drop box says transfer \(id) is \(size) bytes, more than the \(maximumSize) allowed; nothing was downloaded")
        }
        let existing = try folder.status(part).map { UInt64(max(0, $0.st_size)) } ?? 0
        try checkResumable(part, in: folder, holding: existing, transfer: id, size: size)
        let free = try folder.availableBytes()
        guard size - existing <= free else {
            throw DropBoxError(
                .localState,
                "transfer \(id) is \(size) bytes and \(folder.path) has only \(free) bytes free; nothing was downloaded. Free some space or receive elsewhere"
            )
        }
        let file = try folder.openPrivateFile(part, create: true)
        // Held until the file is closed: a second run on the same part
        // file (the same id, or the same output name) would interleave.
        guard flock(file.rawValue, LOCK_EX | LOCK_NB) == 0 else {
            throw DropBoxError(
                .localState, "\(folder.display(part)) is in use by another sealdrop run; wait for it to finish, or receive to another path")
        }
        let have = UInt64(max(0, lseek(file.rawValue, 0, SEEK_END)))
        // The same checks on what was opened, in case the file changed meanwhile.
        try checkResumable(part, in: folder, holding: have, transfer: id, size: size)
        if have > 0 { events(.resuming(at: have, of: size)) }
        let pipe = try teeTo?(have)
        do {
            let handle = try sftp.open(VirtualPath.inboxFile(transferID: id).canonical, flags: .read)
            var floor = ProgressFloor(bytes: UInt64(SFTPClient.blockSize), seconds: Double(timeout), from: have)
            let progress: (UInt64) -> Void = { events(.progress($0, of: size)) }
            let check: (UInt64) throws -> Void = { try floor.check($0, of: "transfer \(id)") }
            if let pipe {
                var sink = TeeSink(file: file, pipe: pipe)
                try sftp.download(handle, from: have, size: size, to: &sink, progress: progress, afterEachAnswer: check)
            } else {
                var sink = file
                try sftp.download(handle, from: have, size: size, to: &sink, progress: progress, afterEachAnswer: check)
            }
            try file.synchronize()
            try sftp.close(handle)
        } catch {
            pipe?.fail(error)
            throw error
        }
        pipe?.finish()
        return true
    }

    /// A part file holding `have` bytes may be continued as transfer `id`
    /// of `size` bytes only if it is no longer than that and its envelope
    /// header (once there) names `id`: resuming another transfer's part
    /// would splice two envelopes and spend this transfer's single download.
    private func checkResumable(_ part: String, in folder: OutputDirectory, holding have: UInt64, transfer id: String, size: UInt64) throws {
        guard have > 0 else { return }
        guard have <= size else {
            throw DropBoxError(
                .protocolViolation,
                "the drop box now says transfer \(id) is \(size) bytes, but \(have) bytes of it were downloaded before into \(folder.display(part)); that file was kept as it is"
            )
        }
        let idStart = EnvelopeFormat.preambleLength
        let prefix = try folder.readPrefix(part, count: idStart + EnvelopeFormat.transferIDLength)
        let magic = EnvelopeFormat.magic
        let looksLikeEnvelope = prefix.starts(with: magic) || magic.starts(with: prefix)
        let heldID = prefix.count == idStart + EnvelopeFormat.transferIDLength ? Hex.encode(Array(prefix[idStart...])) : nil
        guard looksLikeEnvelope, heldID == nil || heldID == id else {
            let what = heldID.map { looksLikeEnvelope ? "the start of transfer \($0)" : "something else" } ?? "something else"
            throw DropBoxError(
                .localState,
                "\(folder.display(part)) holds \(what), not of transfer \(id); it was left as it is. Move it away, or receive \(id) to another path"
            )
        }
    }

    /// The verified file description of the envelope in `part`, after the
    /// checks that bind it to the transfer asked for (see `bind`). Used to
    /// name the output before decrypting.
    public func describe(part: String, in folder: OutputDirectory, transfer id: String, trust: TrustStore, journal: ReceivedJournal) throws
        -> FileDescription
    {
        var source = try folder.openForReading(part)
        let (_, description) = try EnvelopeOpener.describe(from: &source, recipient: identity) { header in
            try bind(header, to: id, trust: trust, journal: journal).key
        }
        return description
    }

    /// Verifies and decrypts `part` into `name` in `output` (appearing only
    /// once every byte has verified), records the id in `journal`, removes
    /// `part`, and uploads the signed acknowledgment. On any failure nothing
    /// is written and `part` is kept: ciphertext only, mode 0600, as
    /// evidence for the operator (the same check refuses it again).
    public func open(
        part: String, in folder: OutputDirectory, transfer id: String, trust: TrustStore, journal: inout ReceivedJournal,
        to output: OutputDirectory, name: String, overwrite: Bool
    ) throws -> ReceivedTransfer {
        let id = try Self.checked(id)
        // One pass over the part file: the opener hashes the ciphertext as it
        // reads (the trailer needs it), and the plaintext is hashed on the
        // writer's thread, beside the decryption on this one.
        var source = ReadAheadSource(try folder.openForReading(part))
        let file = try AtomicOutputFile(in: output, name: name, mode: 0o600, overwrite: overwrite)
        let hashed = HashingSink(file)
        var plain = WriteBehindSink(hashed)
        var sender = "?"
        let currentJournal = journal
        let result = try EnvelopeOpener.open(from: &source, to: &plain, recipient: identity) { header in
            let party = try bind(header, to: id, trust: trust, journal: currentJournal)
            sender = party.name.value
            return party.key
        }
        try plain.finish()
        try file.commit()
        try journal.record(id)
        try folder.remove(part)
        var failure: String?
        do {
            try acknowledge(id, ciphertextSHA256: result.envelopeSHA256, plaintextSHA256: hashed.digest())
        } catch {
            // The file is received whatever the drop box answers; a refusal is only reported.
            failure = (error as? DropBoxError)?.message ?? "\(error)"
        }
        return ReceivedTransfer(
            id: id, sender: sender, description: result.description, plaintextSize: result.plaintextSize, output: output.display(name),
            acknowledgmentFailure: failure)
    }

    /// The checks that bind an envelope to the transfer asked for, made on
    /// its cleartext header before any signature or decryption work: its
    /// id is `id`, it was not received before, it is addressed to this
    /// vendor's certificate (one from the pinned CA naming this vendor and
    /// holding this key). Returns the verified sender.
    func bind(_ header: EnvelopeHeader, to id: String, trust: TrustStore, journal: ReceivedJournal) throws -> VerifiedParty {
        let served = header.transferIDString
        guard served == id else {
            throw DropBoxError(
                .wrongEnvelope, "the drop box served the wrong file for transfer \(id): the envelope inside is transfer \(served), so it was refused")
        }
        guard !journal.contains(served) else {
            throw DropBoxError(.replayed, "the drop box served transfer \(served) again; this profile received it already (\(journal.file))")
        }
        let mine = header.recipientCertificate.flatMap { fingerprint in
            trust.vendorCertificates().first { $0.fingerprint == fingerprint }
        }.flatMap { try? trust.verifier().verify($0, for: .recipient) }
        guard let mine, mine.name.value == vendor, mine.key.fingerprint == identity.publicKey.fingerprint else {
            throw DropBoxError(
                .wrongEnvelope,
                "the drop box served the wrong file for transfer \(id): the envelope is not addressed to a certificate of \(vendor) holding your key")
        }
        guard let fingerprint = header.senderCertificate else { throw TrustError(.unknownVendor, "the envelope names no sender certificate") }
        return try trust.party(certificateFingerprint: fingerprint, for: .sender)
    }

    /// For `receive --all`: the sender's file name if it is a plain,
    /// visible, free name in `folder`, else the transfer id (with the
    /// sender's name after it when that is usable).
    public static func suggestedName(for description: FileDescription, id: String, in folder: OutputDirectory) throws -> String {
        let name = description.fileName
        // The format already forbids paths and control characters; the
        // folder's rule is applied again here, and hidden names (which a
        // person listing the folder would not see) are refused.
        let usable = !name.isEmpty && !name.hasPrefix(".") && OutputDirectory.problem(with: name) == nil
        if usable, try !folder.exists(name) { return name }
        let fallback = id + (usable ? "-" + name : "")
        let chosen = OutputDirectory.problem(with: fallback) == nil ? fallback : id
        guard try !folder.exists(chosen) else { throw IOError("write", path: folder.display(chosen), errno: EEXIST) }
        return chosen
    }
}
