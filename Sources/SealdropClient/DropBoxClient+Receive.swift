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
    /// Downloads transfer `id` into the private file `part` of `folder`,
    /// resuming from what it already holds. Nothing the drop box says picks
    /// the file: `part` is the caller's name, created with `openat`,
    /// `O_NOFOLLOW`, mode 0600. An id this profile has already received is
    /// refused before any byte is fetched (a replay).
    public func download(
        _ id: String, into folder: OutputDirectory, part: String, journal: ReceivedJournal, events: (ReceiveEvent) -> Void = { _ in }
    ) throws {
        let id = try Self.checked(id)
        if journal.contains(id) {
            throw DropBoxError(
                .replayed,
                "the drop box offers transfer \(id), which this profile received already (\(journal.file)): an old transfer served again; nothing was downloaded"
            )
        }
        guard let size = try waitingSize(id) else {
            if let existing = try folder.status(part), existing.st_mode & S_IFMT == S_IFREG, existing.st_size > 0 {
                events(.alreadyDelivered)
                return
            }
            throw DropBoxError(.notFound, "no transfer \(id) is waiting for you")
        }
        let file = try folder.openPrivateFile(part, create: true)
        var have = UInt64(max(0, lseek(file.rawValue, 0, SEEK_END)))
        if have > size {
            guard ftruncate(file.rawValue, 0) == 0, lseek(file.rawValue, 0, SEEK_SET) == 0 else {
                throw IOError("truncate", path: folder.display(part), errno: errno)
            }
            have = 0
        }
        if have > 0 { events(.resuming(at: have, of: size)) }
        let handle = try sftp.open(VirtualPath.inboxFile(transferID: id).canonical, flags: .read)
        var sink = file
        try sftp.download(handle, from: have, size: size, to: &sink) { events(.progress($0, of: size)) }
        try file.synchronize()
        try sftp.close(handle)
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
        let ciphertextSHA256 = try Self.sha256(try folder.openForReading(part))
        var source = try folder.openForReading(part)
        let file = try AtomicOutputFile(in: output, name: name, mode: 0o600, overwrite: overwrite)
        var plain = HashingSink(WriteBehindSink(file))
        var sender = "?"
        let currentJournal = journal
        let result = try EnvelopeOpener.open(from: &source, to: &plain, recipient: identity) { header in
            let party = try bind(header, to: id, trust: trust, journal: currentJournal)
            sender = party.name.value
            return party.key
        }
        try plain.inner.finish()
        try file.commit()
        try journal.record(id)
        try folder.remove(part)
        var failure: String?
        do {
            try acknowledge(id, ciphertextSHA256: ciphertextSHA256, plaintextSHA256: plain.digest())
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

    static func sha256(_ source: FileDescriptor) throws -> [UInt8] {
        let hasher = SHA256Stream()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if count == 0 { return hasher.finalize() }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }
}
