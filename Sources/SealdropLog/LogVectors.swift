import Foundation
import SealdropCrypto
import SealdropFormat

/// The receipt log's test vectors (`Tests/Vectors/log-v1`): entries and
/// their leaf hashes, tree roots, inclusion and consistency proofs, signed
/// heads, and whole logs with the problems `AuditVerifier` must report.
/// Keys and times are fixed, so every run writes the same bytes; the test
/// suite checks both that it still does and that the code agrees with each
/// expectation written here by hand.
@_spi(TestVectors)
public enum LogVectors {
    /// The receipt key's seed: any fixed value.
    public static let seed = [UInt8](repeating: 0x1d, count: 32)
    /// 2026-01-01T00:00:00Z in Unix milliseconds.
    public static let epoch: Int64 = 1_767_225_600_000
    public static let transferA = "0123456789abcdef0123456789abcdef"
    public static let transferB = "fedcba9876543210fedcba9876543210"
    public static let hashA = String(repeating: "ab", count: 32)
    public static let hashB = String(repeating: "cd", count: 32)

    public static func key() -> Ed25519PrivateKey {
        try! Ed25519PrivateKey(seed: SecretBytes(copying: seed))
    }

    // MARK: the files

    public struct EntryCase: Codable, Equatable {
        public var name: String
        /// Base64 of the exact bytes.
        public var entry: String
        /// "ok" or the `LogEntryError` code.
        public var expect: String
        /// Hex leaf hash, for every case (invalid entries still hash).
        public var leafHash: String
    }

    public struct InclusionCase: Codable, Equatable {
        public var name: String
        public var index: Int
        public var size: Int
        public var leafHash: String
        public var root: String
        public var proof: [String]
        public var valid: Bool
    }

    public struct ConsistencyCase: Codable, Equatable {
        public var name: String
        public var oldSize: Int
        public var oldRoot: String
        public var newSize: Int
        public var newRoot: String
        public var proof: [String]
        public var valid: Bool
    }

    public struct HeadCase: Codable, Equatable {
        public var name: String
        public var head: SignedTreeHead
        public var valid: Bool
    }

    public struct Tree: Codable, Equatable {
        /// Base64 of each leaf entry, in order.
        public var entries: [String]
        /// Hex root of each prefix, sizes 0…n.
        public var roots: [String]
        public var inclusion: [InclusionCase]
        public var consistency: [ConsistencyCase]
    }

    public struct Heads: Codable, Equatable {
        /// Hex Ed25519 public key of the receipt key.
        public var publicKey: String
        public var cases: [HeadCase]
    }

    public struct AuditCase: Codable, Equatable {
        public var name: String
        public var entries: [String]
        public var head: SignedTreeHead
        public var earlier: [SignedTreeHead]
        /// The `AuditVerifier.Problem` codes expected, in order; empty when sound.
        public var expect: [String]
    }

    public struct Audit: Codable, Equatable {
        public var publicKey: String
        /// The grace after expiry, seconds.
        public var grace: Double
        public var cases: [AuditCase]
    }

    /// Every file of the set, by name.
    public static func files() -> [(name: String, bytes: [UInt8])] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        func json<T: Encodable>(_ value: T) -> [UInt8] { Array(try! encoder.encode(value)) + [0x0A] }
        return [
            ("entries.json", json(entryCases())), ("tree.json", json(tree())), ("heads.json", json(heads())), ("audit.json", json(audit())),
            ("export.jsonl", sampleExport().encoded()), ("export.json", json(exportCases())),
        ]
    }

    // MARK: entries

    /// One valid entry of every kind, then entries each wrong in one way.
    public static func entryCases() -> [EntryCase] {
        var cases = [EntryCase]()
        func add(_ name: String, _ bytes: [UInt8], _ expect: String) {
            cases.append(EntryCase(name: name, entry: Base64.encode(bytes), expect: expect, leafHash: Hex.encode(MerkleTree.leafHash(bytes))))
        }
        for (offset, kind) in LogEntry.Kind.allCases.enumerated() {
            var entry = LogEntry(sequence: Int64(offset + 1), time: epoch + Int64(offset), kind: kind, actor: "acme", source: "192.0.2.7")
            switch kind {
            case .uploadPublished:
                entry.transfer = transferA
                entry.recipient = "globex"
                entry.size = 1_048_576
                entry.sha256 = hashA
                entry.expires = epoch + 86_400_000
            case .refusedAuthorization, .refusedOperation, .refusedClaim, .refusedOpen, .refusedSession, .loginRefused:
                entry.count = 41
                entry.detail = "41 more refused in 60 s (names offered: acme)"
            case .orphanRemoved, .sessionClosed:
                entry.actor = "server"
                entry.source = ""
                entry.detail = "a blob no pending transfer names"
            case .loginAccepted:
                break
            default:
                entry.transfer = transferA
                entry.size = 1_048_576
                entry.sha256 = hashA
            }
            add("ok-\(kind.rawValue)", entry.encoded(), "ok")
        }
        add(
            "ok-escaped-detail",
            LogEntry(sequence: 1, time: epoch, kind: .uploadRejected, actor: "acme", detail: "a/b \"q\" \\ \n\t\u{01} é €").encoded(), "ok")
        let base = LogEntry(sequence: 3, time: epoch, kind: .claimed, actor: "globex", source: "::1", transfer: transferA).encoded()
        let text = String(decoding: base, as: UTF8.self)
        add("unknown-kind", Array(text.replacingOccurrences(of: "\"claimed\"", with: "\"claimd\"").utf8), "unknown-kind")
        add("unknown-field", Array(text.replacingOccurrences(of: "{\"actor\"", with: "{\"account\":\"x\",\"actor\"").utf8), "unknown-field")
        add("missing-sequence", Array(text.replacingOccurrences(of: "\"sequence\":3,", with: "").utf8), "missing-field")
        add("sequence-as-string", Array(text.replacingOccurrences(of: "\"sequence\":3", with: "\"sequence\":\"3\"").utf8), "invalid-field")
        add("sequence-zero", Array(text.replacingOccurrences(of: "\"sequence\":3", with: "\"sequence\":0").utf8), "invalid-field")
        add("size-negative", Array(text.replacingOccurrences(of: "\"source\"", with: "\"size\":-1,\"source\"").utf8), "invalid-field")
        add("transfer-short", Array(text.replacingOccurrences(of: transferA, with: "0123").utf8), "invalid-field")
        add("transfer-uppercase", Array(text.replacingOccurrences(of: transferA, with: transferA.uppercased()).utf8), "invalid-field")
        add("spaces", Array(text.replacingOccurrences(of: ",\"kind\"", with: ", \"kind\"").utf8), "not-canonical")
        add(
            "keys-unsorted",
            Array(text.replacingOccurrences(of: "{\"actor\":\"globex\",\"detail\":\"\"", with: "{\"detail\":\"\",\"actor\":\"globex\"").utf8),
            "not-canonical")
        add(
            "slash-unescaped", LogEntry(sequence: 1, time: epoch, kind: .uploadRejected, actor: "acme", detail: "a/b").encoded().slashUnescaped(),
            "not-canonical")
        add("array", Array("[1,2]".utf8), "malformed")
        add("truncated", Array(base.dropLast()), "malformed")
        return cases
    }

    // MARK: the tree

    /// A small log of real entries: a transfer's whole life and a refusal.
    public static func sampleLog() -> [[UInt8]] {
        let events: [LogEntry] = [
            LogEntry(sequence: 1, time: epoch, kind: .loginAccepted, actor: "acme", source: "192.0.2.7"),
            LogEntry(
                sequence: 2, time: epoch + 1_000, kind: .uploadPublished, actor: "acme", source: "192.0.2.7", transfer: transferA, recipient: "globex",
                size: 4096, sha256: hashA, expires: epoch + 3_600_000),
            LogEntry(
                sequence: 3, time: epoch + 2_000, kind: .refusedAuthorization, actor: "initech", source: "198.51.100.9", count: 3,
                detail: "3 more refused in 5 s"),
            LogEntry(sequence: 4, time: epoch + 3_000, kind: .claimed, actor: "globex", source: "203.0.113.4", transfer: transferA),
            LogEntry(
                sequence: 5, time: epoch + 4_000, kind: .delivered, actor: "globex", source: "203.0.113.4", transfer: transferA, size: 4096, sha256: hashA),
            LogEntry(sequence: 6, time: epoch + 4_000, kind: .deleted, actor: "server", transfer: transferA, size: 4096, sha256: hashA, detail: "delivered"),
            LogEntry(sequence: 7, time: epoch + 5_000, kind: .orphanRemoved, actor: "server", detail: "1 stray blob"),
        ]
        return events.map { $0.encoded() }
    }

    public static func tree() -> Tree {
        let log = sampleLog()
        let leaves = log.map(MerkleTree.leafHash)
        let roots = (0...leaves.count).map { Hex.encode(MerkleTree.root(leaves[..<$0])) }
        var inclusion = [InclusionCase]()
        for size in 1...leaves.count {
            for index in 0..<size {
                inclusion.append(
                    InclusionCase(
                        name: "ok-\(index)-of-\(size)", index: index, size: size, leafHash: Hex.encode(leaves[index]), root: roots[size],
                        proof: MerkleTree.inclusionProof(index: index, leaves[..<size]).map { Hex.encode($0) }, valid: true))
            }
        }
        let good = MerkleTree.inclusionProof(index: 2, leaves[...]).map { Hex.encode($0) }
        var flipped = good
        flipped[0] = Hex.encode(Digest.sha256(Array("not a node".utf8)))
        let n = leaves.count
        inclusion += [
            InclusionCase(name: "bad-proof-hash", index: 2, size: n, leafHash: Hex.encode(leaves[2]), root: roots[n], proof: flipped, valid: false),
            InclusionCase(name: "bad-index", index: 3, size: n, leafHash: Hex.encode(leaves[2]), root: roots[n], proof: good, valid: false),
            InclusionCase(name: "bad-size", index: 2, size: 4, leafHash: Hex.encode(leaves[2]), root: roots[n], proof: good, valid: false),
            InclusionCase(name: "proof-too-long", index: 2, size: n, leafHash: Hex.encode(leaves[2]), root: roots[n], proof: good + [roots[1]], valid: false),
            InclusionCase(
                name: "proof-too-short", index: 2, size: n, leafHash: Hex.encode(leaves[2]), root: roots[n], proof: Array(good.dropLast()), valid: false),
            InclusionCase(
                name: "leaf-as-node", index: 2, size: n, leafHash: Hex.encode(MerkleTree.nodeHash(leaves[2], leaves[3])), root: roots[n], proof: good,
                valid: false),
        ]
        var consistency = [ConsistencyCase]()
        for newSize in 1...n {
            for oldSize in 1...newSize {
                consistency.append(
                    ConsistencyCase(
                        name: "ok-\(oldSize)-to-\(newSize)", oldSize: oldSize, oldRoot: roots[oldSize], newSize: newSize, newRoot: roots[newSize],
                        proof: MerkleTree.consistencyProof(oldSize: oldSize, leaves[..<newSize]).map { Hex.encode($0) }, valid: true))
            }
        }
        // A fork: the same first three entries, then a different fourth.
        var forked = log
        forked[3] = LogEntry(sequence: 4, time: epoch + 3_000, kind: .claimed, actor: "initech", source: "203.0.113.4", transfer: transferA).encoded()
        let forkedLeaves = forked.map(MerkleTree.leafHash)
        // Another fork, in the part a proof from size 4 covers.
        var forkedLate = log
        forkedLate[5] = LogEntry(sequence: 6, time: epoch + 4_000, kind: .deleted, actor: "server", transfer: transferA, detail: "kept").encoded()
        let forkedLateLeaves = forkedLate.map(MerkleTree.leafHash)
        let proof3to7 = MerkleTree.consistencyProof(oldSize: 3, leaves[...]).map { Hex.encode($0) }
        consistency += [
            ConsistencyCase(
                name: "fork-old-root-from-other-log", oldSize: 4, oldRoot: Hex.encode(MerkleTree.root(forkedLeaves[..<4])), newSize: n,
                newRoot: roots[n], proof: MerkleTree.consistencyProof(oldSize: 4, leaves[...]).map { Hex.encode($0) }, valid: false),
            ConsistencyCase(
                name: "fork-proof-from-other-log", oldSize: 4, oldRoot: roots[4], newSize: n, newRoot: roots[n],
                proof: MerkleTree.consistencyProof(oldSize: 4, forkedLateLeaves[...]).map { Hex.encode($0) }, valid: false),
            ConsistencyCase(name: "bad-old-size", oldSize: 4, oldRoot: roots[3], newSize: n, newRoot: roots[n], proof: proof3to7, valid: false),
            ConsistencyCase(name: "old-larger-than-new", oldSize: n, oldRoot: roots[n], newSize: 3, newRoot: roots[3], proof: [], valid: false),
            ConsistencyCase(
                name: "same-size-other-root", oldSize: n, oldRoot: Hex.encode(MerkleTree.root(forkedLeaves[...])), newSize: n, newRoot: roots[n], proof: [],
                valid: false),
            ConsistencyCase(
                name: "proof-truncated", oldSize: 3, oldRoot: roots[3], newSize: n, newRoot: roots[n], proof: Array(proof3to7.dropLast()), valid: false),
        ]
        return Tree(entries: log.map { Base64.encode($0) }, roots: roots, inclusion: inclusion, consistency: consistency)
    }

    // MARK: heads

    public static func head(_ entries: [[UInt8]], at time: Int64) -> SignedTreeHead {
        SignedTreeHead.sign(entries: entries, at: Date(timeIntervalSince1970: TimeInterval(time) / 1000), with: key())
    }

    public static func heads() -> Heads {
        let log = sampleLog()
        let good = head(log, at: epoch + 10_000)
        var badSignature = good
        badSignature.signature = String(good.signature.dropLast(2)) + (good.signature.hasSuffix("00") ? "01" : "00")
        var otherSize = good
        otherSize.size += 1
        var otherRoot = good
        otherRoot.root = Hex.encode(MerkleTree.root([]))
        var otherTime = good
        otherTime.timestamp += 1
        let empty = head([], at: epoch)
        return Heads(
            publicKey: Hex.encode(key().publicKey.bytes),
            cases: [
                HeadCase(name: "ok", head: good, valid: true), HeadCase(name: "ok-empty-log", head: empty, valid: true),
                HeadCase(name: "signature-changed", head: badSignature, valid: false), HeadCase(name: "size-changed", head: otherSize, valid: false),
                HeadCase(name: "root-changed", head: otherRoot, valid: false), HeadCase(name: "timestamp-changed", head: otherTime, valid: false),
            ])
    }

    // MARK: whole logs

    public static func audit() -> Audit {
        let log = sampleLog()
        let end = epoch + 10_000
        func entries(_ log: [[UInt8]]) -> [String] { log.map { Base64.encode($0) } }
        var cases = [AuditCase]()
        func add(_ name: String, _ log: [[UInt8]], head: SignedTreeHead? = nil, earlier: [SignedTreeHead] = [], _ expect: [AuditVerifier.Problem.Code]) {
            cases.append(AuditCase(name: name, entries: entries(log), head: head ?? Self.head(log, at: end), earlier: earlier, expect: expect.map(\.rawValue)))
        }
        let prefix = head(Array(log.prefix(4)), at: epoch + 3_500)
        add("ok", log, earlier: [prefix, head([], at: epoch)], [])

        var edited = log
        edited[4] = Array(String(decoding: edited[4], as: UTF8.self).replacingOccurrences(of: "globex", with: "initech").utf8)
        add("entry-edited", edited, head: head(log, at: end), [.headRoot])
        add("entry-removed", Array(log.prefix(4) + log.suffix(2)), head: head(log, at: end), [.sequenceGap, .sequenceGap, .headSize])
        var swapped = log
        swapped.swapAt(3, 4)
        add("entries-reordered-re-signed", swapped, [.sequenceGap, .sequenceGap])
        add("entry-appended", log + [log[0]], head: head(log, at: end), [.sequenceGap, .headSize])
        var badHead = head(log, at: end)
        badHead.signature = head(log, at: end + 1).signature
        add("head-signature", log, head: badHead, [.headSignature])

        // The split view: a vendor saw a head over a different fourth entry.
        var forked = log
        forked[3] = LogEntry(sequence: 4, time: epoch + 3_000, kind: .claimed, actor: "initech", source: "203.0.113.4", transfer: transferA).encoded()
        add("fork-witness-head", log, earlier: [head(Array(forked.prefix(4)), at: epoch + 3_500)], [.historyRewritten])
        add("truncated-below-witness", Array(log.prefix(3)), earlier: [prefix], [.earlierHeadTruncated])
        let stranger = SignedTreeHead.sign(
            entries: Array(log.prefix(4)), at: Date(timeIntervalSince1970: TimeInterval(epoch) / 1000),
            with: try! Ed25519PrivateKey(seed: SecretBytes(copying: [UInt8](repeating: 0x2e, count: 32))))
        add("witness-head-other-key", log, earlier: [stranger], [.earlierHeadSignature])

        var unknown = log
        unknown[6] = Array(String(decoding: log[6], as: UTF8.self).replacingOccurrences(of: "orphan-removed", with: "orphan-adopted").utf8)
        add("unknown-kind", unknown, [.entryMalformed])

        add("transfer-never-ended", Array(log.prefix(4)), head: head(Array(log.prefix(4)), at: epoch + 3_600_000 + 3_600_000), [.transferNeverEnded])
        add("file-never-deleted", Array(log.prefix(5)), [.fileNeverDeleted])
        var late = log
        late[5] = LogEntry(
            sequence: 6, time: epoch + 3_600_000 + 600_000, kind: .deleted, actor: "server", transfer: transferA, size: 4096, sha256: hashA,
            detail: "delivered"
        ).encoded()
        add("file-deleted-late", late, head: head(late, at: epoch + 3_600_000 + 700_000), [.fileDeletedLate])
        return Audit(publicKey: Hex.encode(key().publicKey.bytes), grace: 120, cases: cases)
    }
}

extension LogVectors {
    // MARK: the export

    public struct ExportCase: Codable, Equatable {
        public var name: String
        /// Base64 of the whole file.
        public var file: String
        /// "ok" or the `LogExportError` code.
        public var expect: String
        /// When "ok": how many entries the file holds, and the hex root of
        /// the tree over them (which need not be the header's).
        public var entries: Int?
        public var root: String?
    }

    /// The sample log as `sealdropd log export` writes it, with placeholder
    /// certificates (the format carries them; `audit` checks them).
    public static func sampleExport() -> LogExport {
        let log = sampleLog()
        let header = LogExport.Header(
            treeHead: head(log, at: epoch + 10_000), serverCertificate: "(server certificate PEM)", caCertificate: "(CA certificate PEM)",
            revocations: "", vendorCertificates: [])
        return LogExport(header: header, entries: log)
    }

    /// Files read well or refused with their code: the framing of spec §4.
    public static func exportCases() -> [ExportCase] {
        let sample = sampleExport()
        var cases = [ExportCase]()
        func add(_ name: String, _ file: [UInt8], _ expect: String, entries: [[UInt8]]? = nil) {
            let root = entries.map { Hex.encode(MerkleTree.root($0.map(MerkleTree.leafHash)[...])) }
            cases.append(ExportCase(name: name, file: Base64.encode(file), expect: expect, entries: entries?.count, root: root))
        }
        let file = sample.encoded()
        add("ok", file, "ok", entries: sample.entries)
        add("no-final-line-feed", Array(file.dropLast()), "ok", entries: sample.entries)
        add("header-only", sample.header.encoded() + [0x0A], "ok", entries: [])
        // Bytes that cannot stand on a line travel as a JSON string of their Base64.
        var awkward = sample
        awkward.entries[6] = Array("{\"line\nfeed\"}".utf8)
        awkward.entries.append(Array("\"quoted\"".utf8))
        add("entries-as-base64-strings", awkward.encoded(), "ok", entries: awkward.entries)
        // A carriage return is part of the entry: the root changes, the audit says so.
        let crlf = Array(String(decoding: file, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n").utf8)
        add("crlf-line-ends", crlf, "ok", entries: sample.entries.map { $0 + [0x0D] })
        let header = sample.header.encoded()
        add("bad-base64-line", header + Array("\n\"not base64!\"\n".utf8), "bad-line")
        add("unterminated-string-line", header + Array("\n\"QUJD\n".utf8), "bad-line")
        add("empty", [], "not-an-export")
        add("not-json", Array("sequence,time,kind\n".utf8), "not-an-export")
        add("header-missing-head", Array("{\"format\":\"sealdrop-log-lines-v1\"}\n".utf8), "not-an-export")
        add(
            "unknown-format", Array(String(decoding: header, as: UTF8.self).replacingOccurrences(of: "lines-v1", with: "lines-v9").utf8) + [0x0A],
            "unknown-format")
        return cases
    }
}

extension [UInt8] {
    /// `\/` back to a bare `/`: the non-canonical spelling of a slash.
    fileprivate func slashUnescaped() -> [UInt8] {
        Array(String(decoding: self, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/").utf8)
    }
}
