import ArgumentParser
import Foundation
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

    /// A receipt is a few KiB per entry; this is far beyond any real one.
    static let maximumReceiptSize = 16 << 20

    @Argument(help: ArgumentHelp("The transfer id.", valueName: "id"))
    var id: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Also save the receipt here.", valueName: "file"))
    var output: String?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard id.count == 32, id.allSatisfy(\.isHexDigit) else { throw ValidationError("a transfer id is 32 hexadecimal digits") }
    }

    func run() throws {
        let profile = try client.resolve()
        let (dropBox, _) = try profile.connect()
        let bytes = try dropBox.sftp.readFile("/receipts/\(id.lowercased()).json", maximumSize: Self.maximumReceiptSize)
        let receipt: TransferReceipt
        do {
            receipt = try JSONDecoder().decode(TransferReceipt.self, from: Data(bytes))
        } catch {
            throw CLIFailure(message: "the drop box sent a malformed receipt", status: .verification)
        }
        let trust = try RemoteTrust(client: dropBox, pinnedCA: profile.ca, vendors: [], floorFile: client.revocationFloorFile)
        let server = try trust.store.verifier().verify(
            try VendorCertificate(pem: receipt.serverCertificate, source: "the receipt's server certificate"), for: .server)
        var problems = receipt.inclusionProblems()
        if !receipt.treeHead.isSigned(by: server.key.signingKey) { problems.insert("the tree head is not signed by \(server.name)", at: 0) }
        if receipt.transfer != id.lowercased() { problems.append("the receipt is for transfer \(receipt.transfer), not \(id)") }
        guard problems.isEmpty else {
            for problem in problems { Terminal.error(problem) }
            throw CLIFailure(message: "the receipt does not verify", status: .verification)
        }
        if let output { try Data(bytes).write(to: URL(fileURLWithPath: output), options: .atomic) }
        print(
            "receipt for transfer \(receipt.transfer), signed by \(server.name) at \(CertificateVerifier.format(receipt.treeHead.time)) over \(receipt.treeHead.size) log entries"
        )
        for item in receipt.entries {
            guard let bytes = Base64.decode(item.entry), let fields = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { continue }
            let time = Date(timeIntervalSince1970: TimeInterval((fields["time"] as? NSNumber)?.int64Value ?? 0) / 1000)
            var line =
                "  #\(item.index + 1) \(CertificateVerifier.format(time)) \(fields["kind"] as? String ?? "?") by \(Terminal.printable(fields["actor"] as? String ?? "?"))"
            if let source = fields["source"] as? String, !source.isEmpty { line += " from \(source)" }
            if let size = fields["size"] as? NSNumber { line += ", \(size) bytes" }
            if let sha = fields["sha256"] as? String { line += ", sha256 \(sha)" }
            print(line)
        }
    }
}
