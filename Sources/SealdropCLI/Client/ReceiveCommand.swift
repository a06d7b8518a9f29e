import ArgumentParser
import Foundation
import SealdropClient
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropCrypto
import SealdropKeys
import SealdropLog
import SealdropTrust

/// `sealdrop receive`: the single download, resumable, then verification.
struct ReceiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive",
        abstract: "Download a transfer once, verify it, decrypt it to PATH (or everything waiting, into a folder).",
        discussion: """
            The ciphertext goes to a private file beside PATH (.PATH.sealdrop-part, mode 0600). \
            If the connection drops, run the same command again: it resumes where it stopped. \
            After the last byte the drop box deletes the transfer; then the sender's certificate \
            and every byte are verified, and only then does PATH appear. The part file is removed \
            on success and kept (ciphertext only) on a verification failure, as evidence. \
            With --all -o DIR, each file is named after the name its sender sealed in (checked to \
            be a plain file name; the transfer id is used when it is empty, hidden or taken).
            """
    )

    @Argument(help: ArgumentHelp("The transfer id (see sealdrop inbox).", valueName: "id"))
    var id: String?

    @Flag(help: "Receive every transfer waiting for you, into the folder given with -o.")
    var all = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the decrypted file (a folder with --all).", valueName: "path"))
    var output: String

    @Flag(help: "Replace PATH if it exists.")
    var force = false

    @Flag(help: "No progress line.")
    var quiet = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard !output.isEmpty, output != "-" else { throw ValidationError("-o needs a path") }
        if all {
            guard id == nil else { throw ValidationError("give a transfer id or --all, not both") }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("with --all, -o names an existing folder")
            }
            return
        }
        guard let id, id.count == 32, id.allSatisfy(\.isHexDigit) else { throw ValidationError("a transfer id is 32 hexadecimal digits (or use --all)") }
        var info = stat()
        if !force, lstat(output, &info) == 0 { throw ValidationError("\(output) already exists; pass --force to replace it") }
    }

    func run() throws {
        let profile = try client.resolve()
        let (dropBox, identity) = try profile.connect()
        let vendors = try dropBox.sftp.list("/directory").compactMap { entry -> String? in
            let name = String(decoding: entry.filename, as: UTF8.self)
            return name.hasSuffix(".pem") && name != "ca.pem" ? String(name.dropLast(4)) : nil
        }
        let trust = try RemoteTrust(client: dropBox, pinnedCA: profile.ca, vendors: vendors, floorFile: client.revocationFloorFile)
        let receiver = Receiver(dropBox: dropBox, identity: identity, trust: trust.store, quiet: quiet)

        guard all else {
            let id = self.id!.lowercased()
            let part = Self.partPath(beside: output)
            try receiver.fetch(id, into: part)
            try receiver.decrypt(part, transfer: id, to: output, overwrite: force)
            return
        }
        let ids = try dropBox.sftp.list("/inbox").map { String(decoding: $0.filename, as: UTF8.self) }
            .filter { $0.hasSuffix(".sealdrop") }.map { String($0.dropLast(9)) }
        if ids.isEmpty { print("nothing waits for you") }
        var failures = 0
        for id in ids {
            do {
                let part = output + "/." + id + ".sealdrop-part"
                try receiver.fetch(id, into: part)
                try receiver.decrypt(part, transfer: id, to: try receiver.destination(for: part, id: id, in: output), overwrite: false)
            } catch {
                failures += 1
                let failure = CLIFailure(libraryError: error) ?? CLIFailure(message: "\(error)", status: .failure)
                Terminal.error("transfer \(id): \(failure.message)")
            }
        }
        if failures > 0 { throw CLIFailure(message: "\(failures) of \(ids.count) transfers failed", status: .verification) }
    }

    static func partPath(beside output: String) -> String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".sealdrop-part"
    }
}

/// Downloads into part files and decrypts them, for one connection.
struct Receiver {
    let dropBox: DropBoxClient
    let identity: VendorIdentity
    let trust: TrustStore
    let quiet: Bool

    /// Downloads transfer `id` into `part`, resuming from what it already holds.
    /// If the drop box no longer lists it but `part` holds bytes, an earlier run
    /// fetched it all (it was delivered) and stopped before decrypting.
    func fetch(_ id: String, into part: String) throws {
        let remote = "/inbox/\(id).sealdrop"
        let size = try? dropBox.sftp.stat(remote).size ?? 0
        var partInfo = stat()
        let partExists = stat(part, &partInfo) == 0 && partInfo.st_size > 0
        guard let size else {
            if partExists {
                if !quiet { Terminal.info("the drop box has delivered transfer \(id) already; opening the copy downloaded earlier") }
                return
            }
            throw CLIFailure(message: "no transfer \(id) is waiting for you", hint: "run 'sealdrop inbox' to see what is", status: .network)
        }
        let fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOError("create", path: part, errno: errno) }
        defer { close(fd) }
        var have = UInt64(lseek(fd, 0, SEEK_END))
        if have > size {
            ftruncate(fd, 0)
            have = 0
        }
        if have > 0, !quiet { Terminal.info("resuming at byte \(have) of \(size)") }
        let handle = try dropBox.sftp.open(remote, flags: .read)
        var sink = FileDescriptor(unowned: fd, path: part)
        let progress = Progress("receiving", total: size, quiet: quiet)
        try dropBox.sftp.download(handle, from: have, size: size, to: &sink) { progress.update($0) }
        fsync(fd)
        try dropBox.sftp.close(handle)
        progress.finish()
    }

    /// For --all: the sender's file name if it is usable and free, else the transfer id.
    func destination(for part: String, id: String, in folder: String) throws -> String {
        var source = try FileDescriptor.openForReading(part)
        let (_, description) = try EnvelopeOpener.describe(from: &source, recipient: identity) { try senderParty($0).key }
        let name = description.fileName
        var info = stat()
        // The format already forbids paths and control characters; also refuse
        // hidden names, which a person listing the folder would not see.
        if !name.isEmpty, !name.hasPrefix("."), lstat(folder + "/" + name, &info) != 0 { return folder + "/" + name }
        let fallback = folder + "/" + id + (name.isEmpty || name.hasPrefix(".") ? "" : "-" + name)
        guard lstat(fallback, &info) != 0 else { throw IOError("write", path: fallback, errno: EEXIST) }
        return fallback
    }

    /// Verifies and decrypts `part` into `output`, removes `part`, and sends
    /// the drop box a signed acknowledgment of what was received.
    func decrypt(_ part: String, transfer id: String, to output: String, overwrite: Bool) throws {
        let ciphertextSHA256 = try Self.sha256(ofFile: part)
        var source = try FileDescriptor.openForReading(part)
        let file = try AtomicOutputFile(destination: output, mode: 0o600, overwrite: overwrite)
        var plain = HashingSink(WriteBehindSink(file))
        var sender = "?"
        let result: OpenResult
        do {
            result = try EnvelopeOpener.open(from: &source, to: &plain, recipient: identity) { header in
                let party = try senderParty(header)
                sender = party.name.value
                return party.key
            }
            try plain.inner.finish()
            try file.commit()
        } catch {
            Terminal.error("\(CLIFailure(libraryError: error)?.message ?? "\(error)")")
            throw CLIFailure(message: "nothing was written to \(output); the downloaded ciphertext is kept in \(part)", status: .verification)
        }
        unlink(part)
        acknowledge(id, ciphertextSHA256: ciphertextSHA256, plaintextSHA256: plain.digest())
        print(
            """
            received from \(sender) (verified)
            file name: \(result.description.fileName.isEmpty ? "(none)" : Terminal.printable(result.description.fileName))
            size:      \(result.plaintextSize) bytes
            written:   \(output)
            """)
        if !result.description.note.isEmpty { print(Terminal.labelled("note", result.description.note)) }
    }

    /// Uploads the signed acknowledgment; the file is received whatever the
    /// drop box answers, so a refusal is only reported.
    func acknowledge(_ id: String, ciphertextSHA256: [UInt8], plaintextSHA256: [UInt8]) {
        let ack = Acknowledgment.sign(
            transfer: id, ciphertextSHA256: ciphertextSHA256, plaintextSHA256: plaintextSHA256, at: Date(), with: identity.signingKey)
        do {
            let handle = try dropBox.sftp.open("/receipts/\(id).ack", flags: [.write, .create, .truncate])
            let body = [UInt8](try JSONEncoder().encode(ack))
            guard case .status(_, .ok, _) = try dropBox.sftp.request({ .write(id: $0, handle: handle, offset: 0, data: body) }) else {
                throw SFTPClientError("the acknowledgment was not accepted")
            }
            try dropBox.sftp.close(handle)
            if !quiet { Terminal.info("acknowledged: the drop box logged your signed receipt of transfer \(id)") }
        } catch {
            Terminal.warning("the acknowledgment of transfer \(id) was not recorded: \(error)")
        }
    }

    static func sha256(ofFile path: String) throws -> [UInt8] {
        let source = try FileDescriptor.openForReading(path)
        let hasher = SHA256Stream()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if count == 0 { return hasher.finalize() }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    /// The sender is the vendor whose certificate the header names, verified now.
    func senderParty(_ header: EnvelopeHeader) throws -> VerifiedParty {
        guard let fingerprint = header.senderCertificate else {
            throw TrustError(.unknownVendor, "the envelope names no sender certificate")
        }
        return try trust.party(certificateFingerprint: fingerprint, for: .sender)
    }
}
