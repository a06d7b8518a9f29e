import ArgumentParser
import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropLog
import SealdropTrust

/// `sealdrop audit`: the compliance officer's offline checks.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check a receipt log exported by sealdropd, offline, against the CA.",
        subcommands: [AuditVerifyCommand.self, AuditReportCommand.self]
    )
}

struct AuditVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a log bundle: certificates, signed head, every entry, history, and each transfer's lifecycle.",
        discussion: """
            Checks that the server certificate chains to your pinned CA with the server role, that the \
            tree head is signed by it and covers exactly these entries (so any edit, deletion, reordering \
            or truncation is caught), that a head you saved earlier is a prefix of this log (so history \
            was not rewritten), and that every transfer ended (delivered, expired, revoked) or is still \
            within its expiry, with its file deleted in time. Each problem is printed with its entry number.
            """
    )

    @Argument(help: ArgumentHelp("The bundle from 'sealdropd log export'.", valueName: "bundle"))
    var bundle: String

    @Option(help: ArgumentHelp("Your pinned CA certificate.", valueName: "ca.pem"))
    var ca: String

    @Option(name: .customLong("since-head"), help: ArgumentHelp("A tree head saved from an earlier verification.", valueName: "file"))
    var sinceHead: String?

    @Option(name: .customLong("save-head"), help: ArgumentHelp("Save this bundle's verified head, for the next --since-head.", valueName: "file"))
    var saveHead: String?

    @Option(
        name: .customLong("reaper-interval"), help: ArgumentHelp("The server's reaper interval in seconds (its setting; default 60).", valueName: "seconds"))
    var reaperInterval: Double = 60

    func run() throws {
        let (log, _, problems) = try AuditCheck(bundle: bundle, ca: ca, sinceHead: sinceHead, reaperInterval: reaperInterval).run()
        if problems.isEmpty {
            if let saveHead {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(log.treeHead).write(to: URL(fileURLWithPath: saveHead), options: .atomic)
            }
            print("verified: \(log.treeHead.size) entries, tree head \(log.treeHead.root) signed \(CertificateVerifier.format(log.treeHead.time))")
            return
        }
        for problem in problems { Terminal.error(problem) }
        throw CLIFailure(message: "\(problems.count) problems found in \(bundle)", status: .verification)
    }
}

/// `sealdrop audit report`: the same checks, then a page for a person.
struct AuditReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Verify a log bundle, then write a report: a self-contained HTML page, CSV or JSON.",
        discussion: "The verification result heads the report; problems are listed, not hidden. Exit status 3 if there are any."
    )

    @Argument(help: ArgumentHelp("The bundle from 'sealdropd log export'.", valueName: "bundle"))
    var bundle: String

    @Option(help: ArgumentHelp("Your pinned CA certificate.", valueName: "ca.pem"))
    var ca: String

    @Option(help: ArgumentHelp("Write an HTML page here.", valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("Write CSV here.", valueName: "file"))
    var csv: String?

    @Option(help: ArgumentHelp("Write JSON here.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Only transfers uploaded on or after this day (YYYY-MM-DD, UTC).", valueName: "day"))
    var since: String?

    @Option(help: ArgumentHelp("Only transfers uploaded before the end of this day (YYYY-MM-DD, UTC).", valueName: "day"))
    var until: String?

    @Option(help: ArgumentHelp("Only transfers this vendor sent or received.", valueName: "name"))
    var vendor: String?

    static func day(_ text: String?, endOfDay: Bool) throws -> Date? {
        guard let text else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard let date = formatter.date(from: text) else { throw ValidationError("\(text) is not a day as YYYY-MM-DD") }
        return endOfDay ? date.addingTimeInterval(86_400) : date
    }

    func validate() throws {
        guard html != nil || csv != nil || json != nil else { throw ValidationError("name at least one of --html, --csv, --json") }
    }

    func run() throws {
        let (log, leaves, problems) = try AuditCheck(bundle: bundle, ca: ca, sinceHead: nil, reaperInterval: 60).run()
        var facts = AuditFacts(entries: leaves)
        let from = try Self.day(since, endOfDay: false)
        let to = try Self.day(until, endOfDay: true)
        facts.transfers = facts.transfers.filter { story in
            let uploaded = story.uploaded ?? .distantPast
            return (from.map { uploaded >= $0 } ?? true) && (to.map { uploaded < $0 } ?? true)
                && (vendor.map { story.sender == $0 || story.recipient == $0 } ?? true)
        }
        let verified = "\(log.treeHead.size) entries under a tree head signed \(CertificateVerifier.format(log.treeHead.time))"
        if let html { try AuditRenderer.html(facts, verified: verified, problems: problems).write(toFile: html, atomically: true, encoding: .utf8) }
        if let csv { try AuditRenderer.csv(facts).write(toFile: csv, atomically: true, encoding: .utf8) }
        if let json {
            try AuditRenderer.json(facts, verified: problems.isEmpty ? verified : "FAILED").write(toFile: json, atomically: true, encoding: .utf8)
        }
        print("report: \(facts.transfers.count) transfers, \(facts.rejected.count) rejected uploads, \(problems.count) problems")
        if !problems.isEmpty { throw CLIFailure(message: "\(problems.count) problems found in \(bundle)", status: .verification) }
    }
}

/// Every check of `audit verify`, returning the problems found.
struct AuditCheck {
    let bundle: String
    let ca: String
    let sinceHead: String?
    /// A transfer's file may be deleted this long after its expiry (plus clock skew).
    let reaperInterval: TimeInterval

    func run() throws -> (LogBundle, [[UInt8]], [String]) {
        let log: LogBundle
        do {
            log = try JSONDecoder().decode(LogBundle.self, from: Data(contentsOf: URL(fileURLWithPath: bundle)))
        } catch {
            throw CLIFailure(message: "\(bundle) is not a sealdrop log bundle: \(error.localizedDescription)", status: .verification)
        }
        var problems = [String]()
        let entries = log.entries.map { Base64.decode($0) }
        let leaves = entries.compactMap { $0 }
        guard leaves.count == entries.count else { throw CLIFailure(message: "an entry of \(bundle) is not valid Base64", status: .verification) }

        let store = try scratchStore(log)
        let serverKey = try verifyServer(log, store)
        let head = log.treeHead
        if !head.isSigned(by: serverKey) { problems.append("the tree head's signature does not verify with the server's receipt key") }
        let hashes = leaves.map(MerkleTree.leafHash)
        if head.size != leaves.count {
            problems.append("the tree head covers \(head.size) entries but the bundle holds \(leaves.count): entries were added or removed")
        } else if Hex.encode(MerkleTree.root(hashes[...])) != head.root {
            problems.append("the entries do not hash to the signed root: an entry was edited, removed or reordered")
        }
        problems += checkHistory(hashes, serverKey: serverKey)
        problems += checkStatements(leaves, log, store)
        problems += Lifecycle.check(leaves, at: head.time, grace: reaperInterval + CertificateVerifier.clockSkew)
        return (log, leaves, problems)
    }

    /// The server certificate must chain to the pinned CA with the server role.
    private func verifyServer(_ log: LogBundle, _ store: TrustStore) throws -> Ed25519PublicKey {
        let certificate = try VendorCertificate(pem: log.serverCertificate, source: "the bundle's server certificate")
        return try store.verifier().verify(certificate, for: .server).key.signingKey
    }

    /// Each acknowledgment must be signed by the recipient's certificate and
    /// name the envelope that was published; each declaration by its sender's.
    private func checkStatements(_ leaves: [[UInt8]], _ log: LogBundle, _ store: TrustStore) -> [String] {
        let verifier = store.verifier()
        var keys: [String: VerifiedParty] = [:]
        for pem in log.vendorCertificates {
            if let certificate = try? VendorCertificate(pem: pem, source: "a vendor certificate of the bundle"),
                let party = try? verifier.verify(certificate, for: .recipient)
            {
                keys[party.name.value] = party
            }
        }
        var published: [String: String] = [:]
        var problems = [String]()
        for (index, leaf) in leaves.enumerated() {
            guard let fields = try? JSONSerialization.jsonObject(with: Data(leaf)) as? [String: Any], let id = fields["transfer"] as? String else { continue }
            switch fields["kind"] as? String {
            case "upload-published":
                published[id] = fields["sha256"] as? String
            case "acknowledged":
                let actor = fields["actor"] as? String ?? "?"
                guard let ack = (fields["detail"] as? String).flatMap({ try? JSONDecoder().decode(Acknowledgment.self, from: Data($0.utf8)) }) else {
                    problems.append("entry \(index + 1): the acknowledgment of transfer \(id) is unreadable")
                    continue
                }
                guard let party = keys[actor], ack.isSigned(by: party.key.signingKey) else {
                    problems.append("entry \(index + 1): the acknowledgment of transfer \(id) is not signed by \(actor)'s certificate")
                    continue
                }
                if ack.transfer != id || ack.ciphertextSHA256 != published[id] {
                    problems.append("entry \(index + 1): the acknowledgment of transfer \(id) names another envelope than the one published")
                }
            case "declared":
                let actor = fields["actor"] as? String ?? "?"
                guard let declaration = (fields["detail"] as? String).flatMap({ try? JSONDecoder().decode(Declaration.self, from: Data($0.utf8)) }),
                    declaration.transfer == id
                else {
                    problems.append("entry \(index + 1): the declaration for transfer \(id) is unreadable")
                    continue
                }
                if !(keys[actor].map { declaration.isSigned(by: $0.key.signingKey) } ?? false) {
                    problems.append("entry \(index + 1): the declaration for transfer \(id) is not signed by \(actor)'s certificate")
                }
            default:
                break
            }
        }
        return problems
    }

    /// A trust store of the pinned CA and the bundle's revocation list.
    private func scratchStore(_ log: LogBundle) throws -> TrustStore {
        let pinned = try TrustStore.checkAnchor(path: ca)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-audit-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Data(pinned.pem.utf8).write(to: URL(fileURLWithPath: scratch + "/ca.pem"))
        try Data(log.revocations.utf8).write(to: URL(fileURLWithPath: scratch + "/" + TrustStore.revocationFile))
        return try TrustStore.load(directory: scratch)
    }

    /// A head saved earlier must describe a prefix of this log.
    private func checkHistory(_ hashes: [MerkleTree.Hash], serverKey: Ed25519PublicKey) -> [String] {
        guard let sinceHead else { return [] }
        guard let data = FileManager.default.contents(atPath: sinceHead), let old = try? JSONDecoder().decode(SignedTreeHead.self, from: data) else {
            return ["\(sinceHead) is not a saved tree head"]
        }
        guard old.isSigned(by: serverKey) else { return ["the saved head \(sinceHead) is not signed by this server's receipt key"] }
        guard old.size > 0 else { return [] }
        guard old.size <= hashes.count else { return ["the log has \(hashes.count) entries, fewer than the \(old.size) of the saved head: it was truncated"] }
        let proof = MerkleTree.consistencyProof(oldSize: old.size, hashes[...])
        guard let oldRoot = Hex.decode(old.root),
            MerkleTree.verifyConsistency(
                oldSize: old.size, oldRoot: oldRoot, newSize: hashes.count, newRoot: MerkleTree.root(hashes[...]), proof: proof)
        else {
            return ["the first \(old.size) entries differ from those of the saved head: history was rewritten"]
        }
        return []
    }
}

/// Each transfer's story, from its entries: it must end, and its file must go.
enum Lifecycle {
    struct Entry: Decodable {
        let sequence: Int
        let time: Int64
        let kind: String
        let transfer: String?
        let expires: Int64?
    }

    static func check(_ leaves: [[UInt8]], at headTime: Date, grace: TimeInterval) -> [String] {
        var problems = [String]()
        var published: [String: (entry: Int, expires: Int64)] = [:]
        var ended: [String: Int64] = [:]
        var deleted: [String: Int64] = [:]
        for (index, leaf) in leaves.enumerated() {
            guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(leaf)) else {
                problems.append("entry \(index + 1) is not a well-formed log entry")
                continue
            }
            if entry.sequence != index + 1 {
                problems.append("entry \(index + 1) carries sequence number \(entry.sequence): entries were removed or reordered")
            }
            guard let id = entry.transfer else { continue }
            switch entry.kind {
            case "upload-published": published[id] = (index + 1, entry.expires ?? 0)
            case "delivered", "expired", "revoked": ended[id] = entry.time
            case "deleted": deleted[id] = entry.time
            default: break
            }
        }
        let now = Int64(headTime.timeIntervalSince1970 * 1000)
        for (id, upload) in published.sorted(by: { $0.value.entry < $1.value.entry }) {
            let limit = upload.expires + Int64(grace * 1000)
            if ended[id] == nil, now > limit {
                problems.append("entry \(upload.entry): transfer \(id) expired without being delivered, expired or revoked")
            }
            if ended[id] != nil, deleted[id] == nil {
                problems.append("entry \(upload.entry): transfer \(id) ended but its file was never recorded as deleted")
            }
            if let gone = deleted[id], gone > limit {
                problems.append("entry \(upload.entry): transfer \(id) was deleted \((gone - upload.expires) / 1000) s after its expiry")
            }
        }
        return problems
    }
}
