import ArgumentParser
import Foundation
import SealdropClient
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropLog
import SealdropTrust

/// The fields of a `--declare` file.
struct DeclarationFile: Decodable {
    var purpose: String
    var reference: String?
    var categories: [String]?
    var records: Int?
}

/// `sealdrop send`: seal and upload in one streaming pass.
struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Seal a file for a vendor and upload it to the drop box, in one pass.",
        discussion: """
            The recipient's certificate is fetched from the drop box and verified against \
            your pinned CA before anything is sent. Neither plaintext nor ciphertext is \
            written to your disk. On any failure the drop box publishes nothing.
            """
    )

    @Argument(help: ArgumentHelp("The file to send, or '-' for standard input.", valueName: "file"))
    var input: String

    @Option(help: ArgumentHelp("The recipient vendor.", valueName: "name"))
    var to: String

    @Option(help: ArgumentHelp("How long it may wait: 90m, 72h, 14d.", valueName: "duration"))
    var expires: ExpiryDuration = .defaultValue

    @Option(help: ArgumentHelp("A short note, sealed with the file.", valueName: "text"))
    var note = ""

    @Option(help: ArgumentHelp("The file name sealed inside (default: FILE's name).", valueName: "name"))
    var name: String?

    @Flag(help: "No progress line.")
    var quiet = false

    @Option(help: ArgumentHelp("Data minimisation: why the extract is sent (signed and logged).", valueName: "text"))
    var purpose: String?

    @Option(help: ArgumentHelp("The instruction or contract asking for it.", valueName: "text"))
    var reference = ""

    @Option(help: ArgumentHelp("A table or category of data included (repeat for each).", valueName: "name"))
    var category: [String] = []

    @Option(help: ArgumentHelp("How many records the extract holds.", valueName: "count"))
    var records: Int?

    @Option(help: ArgumentHelp("A declaration file: JSON with purpose, reference, categories, records.", valueName: "file"))
    var declare: String?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let problem = VendorName.problem(with: to) { throw ValidationError("--to \"\(to)\" is not a vendor name: \(problem)") }
        if declare != nil, purpose != nil { throw ValidationError("give --declare or --purpose, not both") }
        if purpose == nil, declare == nil, !reference.isEmpty || !category.isEmpty || records != nil {
            throw ValidationError("a declaration needs --purpose")
        }
        if let purpose {
            let draft = Declaration(transfer: "", purpose: purpose, reference: reference, categories: category, records: records, time: 0, signature: "")
            if let problem = draft.problem { throw ValidationError(problem) }
        }
        if let problem = FileDescription.problem(fileName: fileName, note: note) { throw ValidationError(problem) }
    }

    private var fileName: String {
        name ?? (input == "-" ? "" : URL(fileURLWithPath: input).lastPathComponent)
    }

    func run() throws {
        // Checked before anything is sent: a declaration refused after the
        // upload would leave a transfer published without it.
        let fields = try declarationFields()
        let profile = try client.resolve()
        var source = ReadAheadSource(try input == "-" ? FileDescriptor.standardInput : FileDescriptor.openForReading(input))
        let size = input == "-" ? nil : try FileDescriptor.openForReading(input).regularFileSize()
        let dropBox = try profile.connect(timeout: client.timeout)
        let trust = try client.trust(dropBox, profile, vendors: [to, profile.name])
        try client.witness(dropBox, trust)
        let recipient = try trust.party(named: try VendorName(to), for: .recipient)
        let me = try trust.party(key: dropBox.identity.publicKey, for: .sender)
        let now = Date()
        let request = SealRequest(
            recipient: recipient.key,
            parties: EnvelopeParties(senderCertificate: me.certificate.fingerprint, recipientCertificate: recipient.certificate.fingerprint),
            description: try FileDescription(fileName: fileName, note: note), created: now,
            expires: now.addingTimeInterval(TimeInterval(expires.seconds)))

        let progress = Progress("sending", total: size, quiet: quiet)
        let sent = try dropBox.send(from: &source, to: recipient, request: request) { progress.update($0) }
        progress.finish()
        let declared = try fields.map { fields in
            try dropBox.declare(Self.declaration(fields, for: sent.header.transferIDString, at: Date(), with: dropBox.identity.signingKey))
        }
        print(
            """
            sent \(fileName.isEmpty ? "standard input" : Terminal.printable(fileName)) to \(recipient.name)
            transfer id: \(sent.header.transferIDString)
            size:        \(sent.envelopeSize) bytes sealed (\(sent.plaintextSize) bytes of plaintext)
            sha256:      \(Hex.encode(sent.sha256)) (of the sealed file, as the drop box records it)
            expires:     \(Timestamp.describe(sent.header.expires))
            server:      \(sent.answer.isEmpty ? "accepted" : sent.answer)\(declared.map { "\ndeclaration: \($0)" } ?? "")
            """)
    }

    /// The declaration from --declare or the flags, if any was given,
    /// checked: its fields by the declaration's rules, its size as uploaded
    /// (signed, with a transfer id) within `Declaration.maximumSize`.
    private func declarationFields() throws -> DeclarationFile? {
        var fields: DeclarationFile?
        if let declare {
            do {
                fields = try JSONDecoder().decode(DeclarationFile.self, from: Data(contentsOf: URL(fileURLWithPath: declare)))
            } catch {
                throw CLIFailure(message: "\(declare) is not a declaration (JSON with purpose, reference, categories, records)", status: .usage)
            }
        } else if let purpose {
            fields = DeclarationFile(purpose: purpose, reference: reference, categories: category, records: records)
        }
        guard let fields else { return nil }
        let draft = Self.declaration(fields, for: String(repeating: "0", count: 32), at: Date(), with: Ed25519PrivateKey.generate())
        if let problem = draft.problem { throw CLIFailure(message: problem, status: .usage) }
        let size = try JSONEncoder().encode(draft).count
        guard size <= Declaration.maximumSize else {
            throw CLIFailure(
                message: "the declaration is \(size) bytes, more than \(Declaration.maximumSize)",
                hint: "a declaration names the purpose and the main tables in a few lines; shorten it", status: .usage)
        }
        return fields
    }

    static func declaration(_ fields: DeclarationFile, for transfer: String, at date: Date, with key: Ed25519PrivateKey) -> Declaration {
        Declaration.sign(
            transfer: transfer, purpose: fields.purpose, reference: fields.reference ?? "", categories: fields.categories ?? [], records: fields.records,
            at: date, with: key)
    }
}
