import ArgumentParser
import Foundation
import SealdropEnvelope
import SealdropFormat
import SealdropIO

/// `sealdrop inspect`: show an envelope's cleartext header without any key.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an envelope's cleartext header; needs no key.",
        discussion: """
            Prints what anyone holding the file can see: transfer id, key and \
            certificate fingerprints, times and sizes. The signature is not \
            checked (that needs the sender's key: use 'sealdrop open').
            """
    )

    @Argument(help: ArgumentHelp("The envelope to inspect.", valueName: "file"))
    var file: String

    func run() throws {
        var source = try FileDescriptor.openForReading(file)
        let signed = try EnvelopeHeaderReader.read(from: &source)
        let header = signed.header
        var lines = [
            "envelope:         \(file)",
            "format:           sealdrop envelope v\(signed.version), \(header.chunkSize)-byte chunks",
            "transfer id:      \(header.transferIDString)",
            "sender key:       \(header.senderKey)",
            "sender cert:      \(header.senderCertificate.map(String.init(describing:)) ?? "none")",
            "recipient key:    \(header.recipientKey)",
            "recipient cert:   \(header.recipientCertificate.map(String.init(describing:)) ?? "none")",
            "created:          \(Timestamp.describe(header.created))",
            "expires:          \(Timestamp.describe(header.expires))",
        ]
        if let size = source.regularFileSize() {
            lines.append("envelope size:    \(size) bytes")
            if EnvelopeFormat.isConsistentLength(size, version: signed.version) {
                let chunks = (size - UInt64(EnvelopeFormat.signedHeaderLength)) / UInt64(EnvelopeFormat.sealedChunkSize)
                // Chunk 0 is the description; the last carries 0 to capacity bytes.
                let capacity = UInt64(EnvelopeFormat.chunkDataCapacity)
                let most = (chunks - 1) * capacity
                let least = most >= capacity ? most - capacity : 0
                lines.append("chunks:           \(chunks) (description + \(chunks - 1) data)")
                lines.append("plaintext size:   \(least) to \(most) bytes (the exact size is encrypted)")
            } else {
                lines.append("warning:          the size is not a whole number of chunks: the file is truncated or altered")
            }
        }
        lines.append("signature:        not checked (inspect uses no key)")
        print(lines.joined(separator: "\n"))
    }
}
