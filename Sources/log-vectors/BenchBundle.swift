import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropKeys
import SealdropLog

/// `log-vectors bundle COUNT KEY SERVER-PEM CA-PEM CRL OUT`: a log export of
/// COUNT entries (transfers published, claimed, delivered and deleted, four
/// entries each) under a head signed with the server key KEY, for measuring
/// `sealdrop audit verify` on a large log (`ops/bench audit`). The entries
/// are generated twice, the same each time: once to sign the head the
/// header line carries, once to write them. Memory does not grow with COUNT.
enum BenchBundle {
    static func write(count: Int, keyPath: String, serverPEM: String, caPEM: String, crl: String, to path: String) throws {
        let key = try VendorIdentity.load(path: keyPath, passphrase: .none).signingKey
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer { try? out.close() }
        let epoch: Int64 = 1_767_225_600_000
        var frontier = MerkleFrontier()
        for index in 0..<count { frontier.append(leafHash: MerkleTree.leafHash(entry(index, epoch: epoch))) }
        let timestamp = epoch + Int64(count) + 1000
        let signature = key.signature(for: SignedTreeHead.signingMessage(size: count, root: frontier.root, timestamp: timestamp))
        let head = SignedTreeHead(size: count, root: Hex.encode(frontier.root), timestamp: timestamp, signature: Hex.encode(signature))
        let header = LogExport.Header(treeHead: head, serverCertificate: serverPEM, caCertificate: caPEM, revocations: crl, vendorCertificates: [])
        var buffer = header.encoded() + [0x0A]
        for index in 0..<count {
            LogExport.appendEntryLine(entry(index, epoch: epoch), to: &buffer)
            if buffer.count > 1 << 20 {
                try out.write(contentsOf: Data(buffer))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try out.write(contentsOf: Data(buffer))
    }

    /// Entry `index` (from 0) of the generated log.
    static func entry(_ index: Int, epoch: Int64) -> [UInt8] {
        let transfer = String(format: "%032x", index / 4)
        let time = epoch + Int64(index)
        let hash = String(repeating: "ab", count: 32)
        let entry: LogEntry
        switch index % 4 {
        case 0:
            entry = LogEntry(
                sequence: Int64(index + 1), time: time, kind: .uploadPublished, actor: "oldvendor", source: "192.0.2.1", transfer: transfer,
                recipient: "newvendor", size: 1_048_576, sha256: hash, expires: time + 86_400_000)
        case 1: entry = LogEntry(sequence: Int64(index + 1), time: time, kind: .claimed, actor: "newvendor", source: "192.0.2.2", transfer: transfer)
        case 2:
            entry = LogEntry(
                sequence: Int64(index + 1), time: time, kind: .delivered, actor: "newvendor", source: "192.0.2.2", transfer: transfer, size: 1_048_576,
                sha256: hash)
        default:
            entry = LogEntry(
                sequence: Int64(index + 1), time: time, kind: .deleted, actor: "server", transfer: transfer, size: 1_048_576, sha256: hash,
                detail: "delivered")
        }
        return entry.encoded()
    }
}
