import ArgumentParser
import Foundation
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys

/// `sealdrop open`: verify and decrypt an envelope sealed for you.
struct OpenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Verify and decrypt an envelope sealed for you.",
        discussion: """
            Checks that SENDER sealed INPUT for your key and that not one byte was \
            changed, removed or added, while decrypting into a private temporary \
            file beside OUTPUT. Only when every check has passed is the file renamed \
            to OUTPUT; on any failure nothing is written and the exit status is 3. \
            With '-o -' the plaintext goes to standard output after verification.
            """
    )

    @Argument(help: ArgumentHelp("The envelope, or '-' for standard input.", valueName: "input"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the decrypted file, or '-' for standard output.", valueName: "output"))
    var output: String

    @OptionGroup var identity: IdentityOptions

    @Option(help: ArgumentHelp("The sender's OpenSSH public key.", valueName: "sender.pub"))
    var from: String

    @Flag(help: "Replace OUTPUT if it exists.")
    var force = false

    func validate() throws {
        if output != "-", !force, FileManager.default.fileExists(atPath: output) {
            throw ValidationError("\(output) already exists; pass --force to replace it")
        }
    }

    func run() throws {
        let sender = try VendorPublicKey.load(path: from)
        let recipient = try identity.load()
        // Reading and writing run on their own threads, beside the decryption.
        var source = ReadAheadSource(try input == "-" ? FileDescriptor.standardInput : FileDescriptor.openForReading(input))

        let result: OpenResult
        if output == "-" {
            let spool = try SpoolFile()
            var sink = WriteBehindSink(spool)
            result = try EnvelopeOpener.open(from: &source, to: &sink, recipient: recipient, expectedSender: sender)
            try sink.finish()
            try spool.rewind()
            var reader = spool
            var stdout = FileDescriptor.standardOutput
            try Self.copy(from: &reader, to: &stdout)
        } else {
            let file = try AtomicOutputFile(destination: output, mode: 0o600, overwrite: force)
            var sink = WriteBehindSink(file)
            result = try EnvelopeOpener.open(from: &source, to: &sink, recipient: recipient, expectedSender: sender)
            try sink.finish()
            try file.commit()
        }
        let name = result.description.fileName.isEmpty ? "(none)" : Terminal.printable(result.description.fileName)
        var lines = [
            "verified: sealed by \(sender.fingerprint) for you, \(Timestamp.describe(result.header.created))",
            "file name: \(name)",
            "size: \(result.plaintextSize) bytes",
            "transfer id: \(result.header.transferIDString)",
            "written to: \(output == "-" ? "standard output" : output)",
        ]
        if !result.description.note.isEmpty {
            lines.append("note: \(Terminal.printable(result.description.note))")
        }
        Terminal.info(lines.joined(separator: "\n"))
    }

    static func copy<Source: ByteSource, Sink: ByteSink>(from source: inout Source, to sink: inout Sink) throws {
        var buffer = [UInt8](repeating: 0, count: EnvelopeFormat.chunkSize)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if count == 0 { return }
            try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }
}
