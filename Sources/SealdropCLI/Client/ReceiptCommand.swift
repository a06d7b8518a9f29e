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
            Every entry must be included in a tree head signed by a server certificate from your CA. \
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
        let verified = try dropBox.receipt(id, trust: trust)
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
            guard let bytes = Base64.decode(item.entry), let fields = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { continue }
            let time = Date(timeIntervalSince1970: TimeInterval((fields["time"] as? NSNumber)?.int64Value ?? 0) / 1000)
            // Entries are signed by the server, yet still its text: sanitised and cut.
            let text = { (key: String) in UntrustedText.fromServer(fields[key] as? String ?? "?") }
            var line = "  #\(item.index + 1) \(CertificateVerifier.format(time)) \(text("kind")) by \(text("actor"))"
            if let source = fields["source"] as? String, !source.isEmpty { line += " from \(text("source"))" }
            if let size = fields["size"] as? NSNumber { line += ", \(size) bytes" }
            if fields["sha256"] is String { line += ", sha256 \(text("sha256"))" }
            print(line)
        }
    }
}
