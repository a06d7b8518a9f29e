import ArgumentParser
import Foundation
import SealdropClient
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropTrust

/// `sealdrop receive`: the single download, resumable, then verification.
struct ReceiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive",
        abstract: "Download a transfer once, verify it, decrypt it to PATH.",
        discussion: """
            The ciphertext goes to a private file beside PATH (.PATH.sealdrop-part, mode 0600). \
            If the connection drops, run the same command again: it resumes where it stopped. \
            After the last byte the drop box deletes the transfer; then the sender's certificate \
            and every byte are verified, and only then does PATH appear. The part file is removed \
            on success and kept (ciphertext only) on a verification failure, as evidence.
            """
    )

    @Argument(help: ArgumentHelp("The transfer id (see sealdrop inbox).", valueName: "id"))
    var id: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the decrypted file.", valueName: "path"))
    var output: String

    @Flag(help: "Replace PATH if it exists.")
    var force = false

    @Flag(help: "No progress line.")
    var quiet = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard id.count == 32, id.allSatisfy(\.isHexDigit) else { throw ValidationError("a transfer id is 32 hexadecimal digits") }
        guard !output.isEmpty, output != "-" else { throw ValidationError("-o needs a file path") }
        var info = stat()
        if !force, lstat(output, &info) == 0 { throw ValidationError("\(output) already exists; pass --force to replace it") }
    }

    var partPath: String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".sealdrop-part"
    }

    func run() throws {
        let profile = try client.resolve()
        let (dropBox, identity) = try profile.connect()
        let remote = "/inbox/\(id.lowercased()).sealdrop"
        // nil: the drop box no longer lists it. If an earlier run fetched every
        // byte (it was delivered) but stopped before decrypting, finish from the part file.
        let size = try? dropBox.sftp.stat(remote).size ?? 0
        var partInfo = stat()
        let partExists = stat(partPath, &partInfo) == 0 && partInfo.st_size > 0
        if size == nil, !partExists {
            throw CLIFailure(message: "no transfer \(id) is waiting for you", hint: "run 'sealdrop inbox' to see what is", status: .network)
        }
        let vendors = try dropBox.sftp.list("/directory").compactMap { entry -> String? in
            let name = String(decoding: entry.filename, as: UTF8.self)
            return name.hasSuffix(".pem") && name != "ca.pem" ? String(name.dropLast(4)) : nil
        }
        let trust = try RemoteTrust(client: dropBox, pinnedCA: profile.ca, vendors: vendors)

        let part = open(partPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard part >= 0 else { throw IOError("create", path: partPath, errno: errno) }
        defer { close(part) }
        if let size {
            var have = UInt64(lseek(part, 0, SEEK_END))
            if have > size {
                ftruncate(part, 0)
                have = 0
            }
            if have > 0, !quiet { Terminal.info("resuming at byte \(have) of \(size)") }
            let handle = try dropBox.sftp.open(remote, flags: .read)
            var sink = FileDescriptor(unowned: part, path: partPath)
            let progress = Progress("receiving", total: size, quiet: quiet)
            try dropBox.sftp.download(handle, from: have, size: size, to: &sink) { progress.update($0) }
            fsync(part)
            try dropBox.sftp.close(handle)
            progress.finish()
        } else if !quiet {
            Terminal.info("the drop box has delivered transfer \(id) already; opening the copy downloaded earlier")
        }

        lseek(part, 0, SEEK_SET)
        var source = FileDescriptor(unowned: part, path: partPath)
        let file = try AtomicOutputFile(destination: output, mode: 0o600, overwrite: force)
        var plain = WriteBehindSink(file)
        var sender = "?"
        let result: OpenResult
        do {
            result = try EnvelopeOpener.open(from: &source, to: &plain, recipient: identity) { header in
                guard let fingerprint = header.senderCertificate else {
                    throw TrustError(.unknownVendor, "the envelope names no sender certificate")
                }
                let party = try trust.store.party(certificateFingerprint: fingerprint, for: .sender)
                sender = party.name.value
                return party.key
            }
            try plain.finish()
            try file.commit()
        } catch {
            Terminal.error("\(CLIFailure(libraryError: error)?.message ?? "\(error)")")
            throw CLIFailure(message: "nothing was written to \(output); the downloaded ciphertext is kept in \(partPath)", status: .verification)
        }
        unlink(partPath)
        print(
            """
            received from \(sender) (verified)
            file name: \(result.description.fileName.isEmpty ? "(none)" : Terminal.printable(result.description.fileName))
            size:      \(result.plaintextSize) bytes
            written:   \(output)
            """)
        if !result.description.note.isEmpty { print(Terminal.labelled("note", result.description.note)) }
    }
}
