import ArgumentParser
import Foundation
import SealdropClient
import SealdropFormat
import SealdropIO
import SealdropLog
import SealdropTrust

/// `sealdrop receipt`: fetch and check the signed receipt of one transfer.
struct ReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt",
        abstract: "Fetch a transfer's signed receipt, check it against your pinned CA, and print it.",
        discussion: """
            Every entry must be included in a tree head signed by a server certificate from your CA, \
            and that head must be the receipt log this profile witnessed, or proven to extend it. \
            With -o, the receipt is also saved, for a compliance officer.
            """
    )

    @Argument(help: ArgumentHelp("The transfer id.", valueName: "id"))
    var id: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Also save the receipt here.", valueName: "file"))
    var output: String?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard id.count == 32, id.allSatisfy(\.isHexDigit) else { throw ValidationError("a transfer id is 32 hexadecimal digits") }
    }

    func run() throws {
        let (dropBox, profile) = try client.connect()
        let trust = try client.trust(dropBox, profile, vendors: [])
        // The receipt must belong to the history this command just witnessed.
        let verified = try dropBox.receipt(id, trust: trust, witnessed: try DropBoxClient.savedHead(client.treeHeadFile))
        let receipt = verified.receipt
        if let output {
            let file = try AtomicOutputFile(destination: output, mode: 0o644, overwrite: true)
            try verified.bytes.withUnsafeBytes { try file.write($0) }
            try file.commit()
        }
        print(
            "receipt for transfer \(receipt.transfer), signed by \(verified.server.name) at \(CertificateVerifier.format(receipt.treeHead.time)) over \(receipt.treeHead.size) log entries"
        )
        for item in receipt.entries {
            // The receipt's inclusion was checked; an entry that does not
            // decode is still reported, never skipped or guessed at.
            guard let bytes = Base64.decode(item.entry) else {
                print("  #\(item.index &+ 1) is not Base64")
                continue
            }
            let entry: LogEntry
            do {
                entry = try LogEntry(decoding: bytes)
            } catch {
                print("  #\(item.index &+ 1) is not a valid log entry (\(error.code.rawValue))")
                continue
            }
            // Entries are signed by the server, yet still its text: sanitised and cut.
            let text = { (value: String) in UntrustedText.fromServer(value) }
            var line = "  #\(item.index &+ 1) \(CertificateVerifier.format(entry.date)) \(entry.kind.rawValue) by \(text(entry.actor))"
            if !entry.source.isEmpty { line += " from \(text(entry.source))" }
            if let recipient = entry.recipient { line += " for \(text(recipient))" }
            if let size = entry.size { line += ", \(size) bytes" }
            if let sha256 = entry.sha256 { line += ", sha256 \(sha256)" }
            print(line)
        }
    }
}
