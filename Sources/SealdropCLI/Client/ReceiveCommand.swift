import ArgumentParser
import Foundation
import SealdropClient
import SealdropFormat
import SealdropIO
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
            An envelope that is not the transfer asked for, not addressed to you, or one this \
            profile has received before (kept in a journal beside the profile) is refused. \
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

    /// A drop box cannot keep one run busy forever by listing more and more.
    static let defaultMaximumTransfers = 100

    @Option(name: .customLong("max"), help: ArgumentHelp("With --all, receive at most this many transfers in one run.", valueName: "count"))
    var maximumTransfers = defaultMaximumTransfers

    @Option(
        name: .customLong("max-size"),
        help: ArgumentHelp(
            "Refuse a transfer the drop box says is larger than this (bytes, or with K, M, G, T), before downloading it.",
            valueName: "size"))
    var maximumSize = ByteCount(bytes: DropBoxClient.defaultMaximumDownloadSize)

    @Flag(help: "Replace PATH if it exists.")
    var force = false

    @Flag(help: "No progress line.")
    var quiet = false

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard !output.isEmpty, output != "-" else { throw ValidationError("-o needs a path") }
        guard (1...10_000).contains(maximumTransfers) else { throw ValidationError("--max is 1 to 10000") }
        if all {
            guard id == nil else { throw ValidationError("give a transfer id or --all, not both") }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("with --all, -o names an existing folder")
            }
            return
        }
        guard let id, id.count == 32, id.allSatisfy(\.isHexDigit) else { throw ValidationError("a transfer id is 32 hexadecimal digits (or use --all)") }
        guard OutputDirectory.problem(with: Self.split(output).name) == nil else { throw ValidationError("-o names a file, not a folder") }
        var info = stat()
        if !force, lstat(output, &info) == 0 { throw ValidationError("\(output) already exists; pass --force to replace it") }
    }

    func run() throws {
        let (dropBox, profile) = try client.connect()
        let trust = try client.trust(dropBox, profile, vendors: nil)
        var journal = try ReceivedJournal(file: client.receivedJournalFile)

        guard all else {
            let id = self.id!.lowercased()
            let (folderPath, name) = Self.split(output)
            let folder = try OutputDirectory(path: folderPath)
            let part = "." + name + ".sealdrop-part"
            try receive(dropBox, id, into: folder, part: part, trust: trust, journal: &journal, overwrite: force, shownAs: folder.display(name)) { _ in
                name
            }
            return
        }
        let folder = try OutputDirectory(path: output)
        let waiting = try dropBox.inbox()
        if waiting.isEmpty { print("nothing waits for you") }
        if waiting.count > maximumTransfers {
            Terminal.info("\(waiting.count) transfers wait; receiving the first \(maximumTransfers) (--max); run again for the rest")
        }
        let taken = waiting.prefix(maximumTransfers)
        var failures = 0
        for entry in taken {
            do {
                // The id passed TransferID's rule, so the part file's name is plain.
                let part = "." + entry.id + ".sealdrop-part"
                try receive(dropBox, entry.id, into: folder, part: part, trust: trust, journal: &journal, overwrite: false) { description in
                    try DropBoxClient.suggestedName(for: description, id: entry.id, in: folder)
                }
            } catch {
                failures += 1
                let failure = CLIFailure(libraryError: error) ?? CLIFailure(message: "\(error)", status: .failure)
                Terminal.error("transfer \(entry.id): \(failure.message)")
            }
        }
        if failures > 0 { throw CLIFailure(message: "\(failures) of \(taken.count) transfers failed", status: .verification) }
    }

    /// Downloads and opens in one pass, showing progress; on a verification
    /// failure says what was kept and exits 3.
    private func receive(
        _ dropBox: DropBoxClient, _ id: String, into folder: OutputDirectory, part: String, trust: TrustStore,
        journal: inout ReceivedJournal, overwrite: Bool, shownAs shown: String? = nil, name: @escaping (FileDescription) throws -> String
    ) throws {
        var progress: Progress?
        let received: ReceivedTransfer
        do {
            received = try dropBox.receive(
                id, into: folder, part: part, trust: trust, journal: &journal, maximumSize: maximumSize.bytes, to: folder, overwrite: overwrite,
                name: name
            ) { event in
                switch event {
                case .resuming(let at, let size):
                    if !quiet { Terminal.info("resuming at byte \(at) of \(size)") }
                case .alreadyDelivered:
                    if !quiet { Terminal.info("the drop box has delivered transfer \(id) already; opening the copy downloaded earlier") }
                case .progress(let done, let size):
                    progress = progress ?? Progress("receiving", total: size, quiet: quiet)
                    progress?.update(done)
                }
            }
        } catch let failure as UnverifiedTransfer {
            progress?.finish()
            Terminal.error("\(CLIFailure(libraryError: failure.underlying)?.message ?? "\(failure.underlying)")")
            let target = (failure.output ?? shown).map { " to \($0)" } ?? ""
            throw CLIFailure(
                message: "nothing was written\(target); the downloaded ciphertext is kept in \(folder.display(part))", status: .verification)
        } catch let error as DropBoxError where error.code == .tooLarge {
            throw CLIFailure(
                message: error.message, hint: "if you expect a transfer that large, pass a larger --max-size (now \(maximumSize))", status: .network)
        }
        progress?.finish()
        if let failure = received.acknowledgmentFailure {
            Terminal.warning("the acknowledgment of transfer \(id) was not recorded: \(failure)")
        } else if !quiet {
            Terminal.info("acknowledged: the drop box logged your signed receipt of transfer \(id)")
        }
        let fileName = received.description.fileName
        print(
            """
            received from \(received.sender) (verified)
            file name: \(fileName.isEmpty ? "(none)" : Terminal.printable(fileName))
            size:      \(received.plaintextSize) bytes
            written:   \(Terminal.printable(received.output))
            """)
        if !received.description.note.isEmpty { print(Terminal.labelled("note", received.description.note)) }
    }

    /// The folder and file name of an output path.
    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }
}
