import ArgumentParser
import Foundation
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropTrust

/// `sealdrop open`: verify and decrypt an envelope sealed for you.
struct OpenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Verify and decrypt an envelope sealed for you.",
        discussion: """
            Finds the sender's certificate in the trust store from the envelope header, \
            checks it (CA, validity, role, revocation), then checks that this sender \
            sealed INPUT for your key and that not one byte was \
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

    @Option(
        help: ArgumentHelp(
            "The vendor you expect the file from; refused if another vendor sealed it (with --unverified-key: the sender's OpenSSH public key file, required).",
            valueName: "sender"
        ))
    var from: String?

    @OptionGroup var trust: TrustOptions

    @Flag(help: "Replace OUTPUT if it exists.")
    var force = false

    func validate() throws {
        if let from {
            try trust.validateParty(from, option: "--from")
        } else if trust.unverifiedKey {
            throw ValidationError("--unverified-key needs --from with the sender's public key file")
        }
        if output.isEmpty {
            throw ValidationError("-o needs a file name, or '-' for standard output")
        }
    }

    func run() throws {
        let recipient = try identity.load()
        let resolver = try SenderResolver(trust: trust, expected: from)
        // Reading and writing run on their own threads, beside the decryption.
        var source = ReadAheadSource(try input == "-" ? FileDescriptor.standardInput : FileDescriptor.openForReading(input))

        let result: OpenResult
        if output == "-" {
            let spool = try SpoolFile()
            var sink = WriteBehindSink(spool)
            result = try EnvelopeOpener.open(from: &source, to: &sink, recipient: recipient, resolveSender: resolver.resolve)
            try sink.finish()
            try spool.rewind()
            var reader = spool
            var stdout = FileDescriptor.standardOutput
            try Self.copy(from: &reader, to: &stdout)
        } else {
            let file = try AtomicOutputFile(destination: output, mode: 0o600, overwrite: force)
            var sink = WriteBehindSink(file)
            result = try EnvelopeOpener.open(from: &source, to: &sink, recipient: recipient, resolveSender: resolver.resolve)
            try sink.finish()
            try file.commit()
        }
        let name = result.description.fileName.isEmpty ? "(none)" : Terminal.printable(result.description.fileName)
        var lines = [
            "verified: sealed by \(resolver.verifiedSender) for you, \(Timestamp.describe(result.header.created))",
            "file name: \(name)",
            "size: \(result.plaintextSize) bytes",
            "transfer id: \(result.header.transferIDString)",
            "written to: \(output == "-" ? "standard output" : output)",
        ]
        if !result.description.note.isEmpty {
            lines.append(Terminal.labelled("note", result.description.note))
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

/// Decides who sealed an envelope: the vendor whose certificate the header
/// names, verified for "sender" (and equal to --from when given), or, with
/// --unverified-key, the bare key in --from.
final class SenderResolver {
    private let store: TrustStore?
    private let expected: String?
    private let bareKey: VendorPublicKey?
    private(set) var verifiedSender = "?"

    init(trust: TrustOptions, expected: String?) throws {
        self.expected = expected
        if trust.unverifiedKey, let expected {
            trust.warnUnverified("sender")
            bareKey = try VendorPublicKey.load(path: expected)
            store = nil
        } else {
            bareKey = nil
            store = try trust.loadStore()
        }
    }

    func resolve(_ header: EnvelopeHeader) throws -> VendorPublicKey {
        if let bareKey {
            verifiedSender = "\(bareKey.fingerprint) (unverified key)"
            return bareKey
        }
        guard let store, let fingerprint = header.senderCertificate else {
            throw TrustError(
                .unknownVendor,
                "the envelope names no sender certificate (it was sealed with --unverified-key); open it with --from SENDER.pub --unverified-key")
        }
        let party = try store.party(certificateFingerprint: fingerprint, for: .sender)
        if let expected, party.name.value != expected {
            throw EnvelopeError(.senderMismatch, "the envelope was sealed by \(party.name), not by \(expected)")
        }
        verifiedSender = "\(party.name) (\(party.key.fingerprint))"
        return party.key
    }
}
