import ArgumentParser
import Foundation
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropTrust

/// `sealdrop seal`: encrypt a file for one recipient and sign it.
struct SealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal",
        abstract: "Seal a file for one recipient.",
        discussion: """
            Encrypts INPUT so that only vendor RECIPIENT can open it, and signs it with \
            your key so the recipient knows it came from you. RECIPIENT's certificate \
            is taken from the trust store and checked (CA, validity, role, revocation) \
            before anything is written. \
            The file name, size and note travel encrypted. Use '-' to read standard \
            input (pg_dump ... | sealdrop seal - -o x.sealdrop ...) or to write \
            standard output. The output appears only once it is complete.
            """
    )

    @Argument(help: ArgumentHelp("The file to seal, or '-' for standard input.", valueName: "input"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the envelope, or '-' for standard output.", valueName: "output"))
    var output: String

    @Option(help: ArgumentHelp("The recipient vendor's name (or, with --unverified-key, its OpenSSH public key file).", valueName: "recipient"))
    var to: String

    @OptionGroup var identity: IdentityOptions

    @OptionGroup var trust: TrustOptions

    @Option(help: ArgumentHelp("How long the file may wait for its recipient: 90m, 72h, 14d (1m to 14d).", valueName: "duration"))
    var expires: ExpiryDuration = .defaultValue

    @Option(help: ArgumentHelp("A short note for the recipient, sealed with the file (at most \(EnvelopeFormat.maximumNoteLength) bytes).", valueName: "text"))
    var note: String = ""

    @Option(help: ArgumentHelp("The file name sealed inside the envelope (default: INPUT's name; none for standard input).", valueName: "name"))
    var name: String?

    @Flag(help: "Replace OUTPUT if it exists.")
    var force = false

    func validate() throws {
        try trust.validateParty(to, option: "--to")
        if output.isEmpty {
            throw ValidationError("-o needs a file name, or '-' for standard output")
        }
        if output == "-", Terminal.isTerminal(1) {
            throw ValidationError("refusing to write an envelope to a terminal; redirect standard output or name a file with -o")
        }
        if let problem = FileDescription.problem(fileName: fileName, note: note) {
            throw ValidationError(problem)
        }
    }

    /// The name sealed into the envelope: --name, else INPUT's last component.
    private var fileName: String {
        name ?? (input == "-" ? "" : URL(fileURLWithPath: input).lastPathComponent)
    }

    func run() throws {
        // Every check on the recipient happens before any output exists.
        let sender = try identity.load()
        let recipient: VendorPublicKey
        let recipientLabel: String
        var parties = EnvelopeParties()
        if trust.unverifiedKey {
            trust.warnUnverified("recipient")
            recipient = try VendorPublicKey.load(path: to)
            recipientLabel = "\(recipient.fingerprint) (unverified key)"
        } else {
            let store = try trust.loadStore()
            let party = try store.party(named: try VendorName(to), for: .recipient)
            let me = try store.party(key: sender.publicKey, for: .sender)
            recipient = party.key
            recipientLabel = "\(party.name) (\(recipient.fingerprint))"
            parties = EnvelopeParties(senderCertificate: me.certificate.fingerprint, recipientCertificate: party.certificate.fingerprint)
        }
        let now = Date()
        let request = SealRequest(
            recipient: recipient,
            parties: parties,
            description: try FileDescription(fileName: fileName, note: note),
            created: now,
            expires: now.addingTimeInterval(TimeInterval(expires.seconds))
        )

        // Reading and writing run on their own threads, beside the encryption.
        var source = ReadAheadSource(try input == "-" ? FileDescriptor.standardInput : FileDescriptor.openForReading(input))
        let result: SealResult
        if output == "-" {
            var sink = WriteBehindSink(FileDescriptor.standardOutput)
            result = try EnvelopeSealer.seal(from: &source, to: &sink, sender: sender, request: request)
            try sink.finish()
        } else {
            let file = try AtomicOutputFile(destination: output, mode: 0o644, overwrite: force)
            var sink = WriteBehindSink(file)
            result = try EnvelopeSealer.seal(from: &source, to: &sink, sender: sender, request: request)
            try sink.finish()
            try file.commit()
        }
        Terminal.info(
            """
            sealed \(fileName.isEmpty ? "standard input" : Terminal.printable(fileName)) (\(result.plaintextSize) bytes) \
            for \(recipientLabel)
            transfer id: \(result.header.transferIDString)
            expires:     \(Timestamp.describe(result.header.expires))
            envelope:    \(output == "-" ? "standard output" : output) (\(result.envelopeSize) bytes)
            """)
    }
}

/// The key you act as, shared by every command that signs or opens.
struct IdentityOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Your OpenSSH Ed25519 private key. If it has a passphrase, set SEALDROP_PASSPHRASE or answer the prompt.",
            valueName: "key"
        ))
    var identity: String

    func load() throws -> VendorIdentity {
        try VendorIdentity.load(path: identity)
    }
}
