import Foundation
import SealdropCrypto
import SealdropFormat
@_spi(TestVectors) import SealdropLog
import Testing

/// `AuditVerifier` over generated logs: a sound one passes, and each attack
/// (an edit, a drop, a fork shown to one vendor) is reported by its code.
@Suite struct AuditVerifierTests {
    static let key = LogVectors.key()

    /// `count` transfers, each published, claimed, delivered and deleted.
    static func log(transfers count: Int) -> [[UInt8]] {
        var entries = [LogEntry]()
        func add(_ entry: LogEntry) {
            var entry = entry
            entry.sequence = Int64(entries.count + 1)
            entries.append(entry)
        }
        for number in 0..<count {
            let id = String(format: "%032x", number)
            let time = LogVectors.epoch + Int64(number) * 1000
            add(
                LogEntry(
                    sequence: 0, time: time, kind: .uploadPublished, actor: "acme", source: "192.0.2.1", transfer: id, recipient: "globex", size: 10,
                    sha256: LogVectors.hashA, expires: time + 3_600_000))
            add(LogEntry(sequence: 0, time: time + 1, kind: .claimed, actor: "globex", source: "192.0.2.2", transfer: id))
            add(LogEntry(sequence: 0, time: time + 2, kind: .delivered, actor: "globex", source: "192.0.2.2", transfer: id, size: 10, sha256: LogVectors.hashA))
            add(LogEntry(sequence: 0, time: time + 2, kind: .deleted, actor: "server", transfer: id, size: 10, sha256: LogVectors.hashA, detail: "delivered"))
        }
        return entries.map { $0.encoded() }
    }

    static func head(_ entries: [[UInt8]]) -> SignedTreeHead { LogVectors.head(entries, at: LogVectors.epoch + 86_400_000) }

    let verifier = AuditVerifier(serverKey: Self.key.publicKey, vendorKeys: [:], grace: 60)

    @Test func frontierRootMatchesTheTreeAtEverySize() {
        var frontier = MerkleFrontier()
        var leaves = [MerkleTree.Hash]()
        for number in 0..<70 {
            #expect(frontier.root == MerkleTree.root(leaves[...]), "size \(number)")
            let leaf = MerkleTree.leafHash([UInt8(number)])
            leaves.append(leaf)
            frontier.append(leafHash: leaf)
        }
    }

    @Test func soundLogWithEveryEarlierHeadPasses() {
        let log = Self.log(transfers: 25)
        let earlier = [1, 2, 3, 4, 31, 64, 99].map { AuditVerifier.EarlierHead(name: "\($0)", head: Self.head(Array(log.prefix($0)))) }
        #expect(verifier.verify(entries: log, head: Self.head(log), earlier: earlier).isEmpty)
    }

    @Test func aForkShownToOneVendorIsCaught() {
        let log = Self.log(transfers: 10)
        var fork = log
        // The server told one vendor a transfer was delivered to someone else.
        fork[14] = Array(String(decoding: fork[14], as: UTF8.self).replacingOccurrences(of: "globex", with: "initech").utf8)
        let witnessed = AuditVerifier.EarlierHead(name: "vendor head", head: Self.head(Array(fork.prefix(20))))
        let problems = verifier.verify(entries: log, head: Self.head(log), earlier: [witnessed])
        #expect(problems.map(\.code) == [.historyRewritten])
        #expect(problems.first?.message.contains(witnessed.head.root) == true)
    }

    @Test func everyEditedEntryIsCaught() {
        let log = Self.log(transfers: 4)
        for index in log.indices {
            var edited = log
            edited[index] = Array(String(decoding: edited[index], as: UTF8.self).replacingOccurrences(of: "\"source\":\"", with: "\"source\":\"x").utf8)
            #expect(verifier.verify(entries: edited, head: Self.head(log)).map(\.code) == [.headRoot], "entry \(index + 1)")
        }
    }

    @Test func acknowledgmentMustBeSignedByTheRecipientForThePublishedEnvelope() throws {
        let globex = try Ed25519PrivateKey(seed: SecretBytes(copying: [UInt8](repeating: 0x42, count: 32)))
        var log = Self.log(transfers: 1)
        let id = String(format: "%032x", 0)
        func ack(_ hash: String, by key: Ed25519PrivateKey) -> [UInt8] {
            let statement = Acknowledgment.sign(
                transfer: id, ciphertextSHA256: Hex.decode(hash)!, plaintextSHA256: [UInt8](repeating: 1, count: 32),
                at: Date(timeIntervalSince1970: 1_767_225_700), with: key)
            let detail = String(decoding: try! JSONEncoder().encode(statement), as: UTF8.self)
            return LogEntry(sequence: 5, time: LogVectors.epoch + 10_000, kind: .acknowledged, actor: "globex", transfer: id, detail: detail).encoded()
        }
        let keys = ["globex": globex.publicKey]
        let verifier = AuditVerifier(serverKey: Self.key.publicKey, vendorKeys: keys, grace: 60)
        let good = log + [ack(LogVectors.hashA, by: globex)]
        #expect(verifier.verify(entries: good, head: Self.head(good)).isEmpty)
        let forged = log + [ack(LogVectors.hashA, by: Self.key)]
        #expect(verifier.verify(entries: forged, head: Self.head(forged)).map(\.code) == [.statementNotSigned])
        let other = log + [ack(LogVectors.hashB, by: globex)]
        #expect(verifier.verify(entries: other, head: Self.head(other)).map(\.code) == [.statementOtherEnvelope])
        log.append(
            Array(
                #"{"actor":"globex","detail":"not json","kind":"acknowledged","sequence":5,"source":"","time":0,"transfer":"00000000000000000000000000000000"}"#
                    .utf8))
        #expect(verifier.verify(entries: log, head: Self.head(log)).map(\.code) == [.statementUnreadable])
    }
}
