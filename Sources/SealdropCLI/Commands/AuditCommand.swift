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
            or truncation is caught), that a head you saved earlier, or a vendor's client saved as a \
            witness, is a prefix of this log (so history was not rewritten nor shown differently to \
            different vendors), and that every transfer ended (delivered, expired, revoked) or is still \
            within its expiry, with its file deleted in time. Each problem is printed with its entry number.
            """
    )

    @Argument(help: ArgumentHelp("The bundle from 'sealdropd log export'.", valueName: "bundle"))
    var bundle: String

    @Option(help: ArgumentHelp("Your pinned CA certificate.", valueName: "ca.pem"))
    var ca: String

    @Option(name: .customLong("since-head"), help: ArgumentHelp("A tree head saved from an earlier verification.", valueName: "file"))
    var sinceHead: String?

    @Option(
        name: .customLong("witness-head"),
        help: ArgumentHelp("A tree head a vendor's client saved (repeatable): the log must extend each.", valueName: "file"))
    var witnessHeads: [String] = []

    @Option(name: .customLong("save-head"), help: ArgumentHelp("Save this bundle's verified head, for the next --since-head.", valueName: "file"))
    var saveHead: String?

    @Option(
        name: .customLong("reaper-interval"), help: ArgumentHelp("The server's reaper interval in seconds (its setting; default 60).", valueName: "seconds"))
    var reaperInterval: Double = 60

    func run() throws {
        let outcome = try AuditCheck(
            bundle: bundle, ca: ca, earlierHeads: (sinceHead.map { [$0] } ?? []) + witnessHeads, reaperInterval: reaperInterval
        ).run()
        let (log, problems) = (outcome.header, outcome.problems)
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
        abstract: "Verify a log bundle, then write a report: a self-contained HTML document, a PDF of it, CSV or JSON.",
        discussion: """
            The verification result heads the report; problems are listed first, not hidden. Exit status 3 if there are any. \
            --pdf prints the HTML document with headless Chromium (Debian's 'chromium' package).
            """
    )

    @Argument(help: ArgumentHelp("The bundle from 'sealdropd log export'.", valueName: "bundle"))
    var bundle: String

    @Option(help: ArgumentHelp("Your pinned CA certificate.", valueName: "ca.pem"))
    var ca: String

    @Option(help: ArgumentHelp("Write an HTML page here.", valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("Print the HTML document to PDF here (A4 landscape; needs chromium).", valueName: "file"))
    var pdf: String?

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
        guard html != nil || pdf != nil || csv != nil || json != nil else { throw ValidationError("name at least one of --html, --pdf, --csv, --json") }
    }

    func run() throws {
        let from = try Self.day(since, endOfDay: false)
        let to = try Self.day(until, endOfDay: true)
        // Fail before the (long) verification if printing cannot work.
        let printer = try pdf.map { _ in try PDFPrinter.find() }
        var facts = AuditFacts()
        let outcome = try AuditCheck(bundle: bundle, ca: ca, earlierHeads: [], reaperInterval: 60).run { facts.add($1, number: $0) }
        facts.finish()
        facts.transfers = facts.transfers.filter { story in
            let uploaded = story.uploaded ?? .distantPast
            return (from.map { uploaded >= $0 } ?? true) && (to.map { uploaded < $0 } ?? true)
                && (vendor.map { story.sender == $0 || story.recipient == $0 } ?? true)
        }
        facts.refusals = facts.refusals.filter { group in
            (from.map { group.last >= $0 } ?? true) && (to.map { group.first < $0 } ?? true) && (vendor.map { group.vendors.contains($0) } ?? true)
        }
        let problems = outcome.problems
        let log = outcome.header
        let verified = "\(log.treeHead.size) entries under a tree head signed \(CertificateVerifier.format(log.treeHead.time))"
        let scope = ReportScope(
            since: since, until: until, vendor: vendor, bundle: (bundle as NSString).lastPathComponent, generated: Date())
        let document = AuditDocument(facts: facts, outcome: outcome, scope: scope)
        if let html { try document.html().write(toFile: html, atomically: true, encoding: .utf8) }
        if let pdf, let printer {
            var printed = document
            printed.expanded = true
            try printer.print(html: printed.html(), to: pdf)
        }
        if let csv { try AuditRenderer.csv(facts).write(toFile: csv, atomically: true, encoding: .utf8) }
        if let json {
            try AuditRenderer.json(facts, verified: problems.isEmpty ? verified : "FAILED").write(toFile: json, atomically: true, encoding: .utf8)
        }
        let refused = facts.refusals.reduce(Int64(0)) { $0 + $1.count }
        print("report: \(facts.transfers.count) transfers, \(refused) refusals, \(problems.count) problems")
        if !problems.isEmpty { throw CLIFailure(message: "\(problems.count) problems found in \(bundle)", status: .verification) }
    }
}

/// Loads a bundle, verifies its certificates against the pinned CA, and
/// hands the rest to the library's `AuditVerifier`; the CLI only prints.
struct AuditCheck {
    let bundle: String
    let ca: String
    /// Heads saved earlier: by the auditor (`--since-head`) or by vendors (`--witness-head`).
    let earlierHeads: [String]
    /// A transfer's file may be deleted this long after its expiry (plus clock skew).
    let reaperInterval: TimeInterval

    /// What was verified, for the report's opening lines.
    struct Outcome {
        var header: LogExport.Header
        var problems: [String]
        /// The receipt key's certificate, verified for the server role.
        var server: VerifiedParty
        var ca: VendorCertificate
    }

    /// Verifies the export, streaming it: `entry` sees each well-formed
    /// entry as it passes, with its number in the log from 1 (the report
    /// builds its facts there).
    func run(entry: (Int, LogEntry) -> Void = { _, _ in }) throws -> Outcome {
        let reader: LogExportReader
        do {
            reader = try LogExportReader(path: bundle)
        } catch {
            throw CLIFailure(
                message: "\(bundle) is not a sealdrop log export: \(error.message)",
                hint: "export the log with 'sealdropd log export -o FILE' (format \(LogExport.format))", status: .verification)
        }
        let log = reader.header
        let store = try scratchStore(log)
        let server = try verifyServer(log, store)
        var problems = [String]()
        var earlier = [AuditVerifier.EarlierHead]()
        for path in earlierHeads {
            guard let data = FileManager.default.contents(atPath: path), let head = try? JSONDecoder().decode(SignedTreeHead.self, from: data) else {
                problems.append("\(path) is not a saved tree head")
                continue
            }
            earlier.append(AuditVerifier.EarlierHead(name: path, head: head, previousKeys: previousKeys(log, store, at: head.time)))
        }
        let verifier = AuditVerifier(
            serverKey: server.key.signingKey, vendorKeys: vendorKeys(log, store), grace: reaperInterval + CertificateVerifier.clockSkew)
        var run = AuditVerifier.Run(verifier: verifier, head: log.treeHead, earlier: earlier)
        var number = 0
        do {
            try reader.forEachEntry { bytes in
                number += 1
                if let decoded = run.add(bytes) { entry(number, decoded) }
            }
        } catch let error as LogExportError {
            throw CLIFailure(message: "\(bundle) is not a sealdrop log export: \(error.message)", status: .verification)
        }
        problems += run.finish().map(\.description)
        return Outcome(header: log, problems: problems, server: server, ca: store.ca)
    }

    /// The server certificate must chain to the pinned CA with the server role.
    private func verifyServer(_ log: LogExport.Header, _ store: TrustStore) throws -> VerifiedParty {
        let certificate = try VendorCertificate(pem: log.serverCertificate, source: "the bundle's server certificate")
        return try store.verifier().verify(certificate, for: .server)
    }

    /// Keys of the export's earlier server certificates that the CA vouched
    /// for (server role) at `time`: a head saved before a key rotation.
    private func previousKeys(_ log: LogExport.Header, _ store: TrustStore, at time: Date) -> [Ed25519PublicKey] {
        let verifier = store.verifier(now: time)
        return (log.previousServerCertificates ?? []).compactMap { pem in
            (try? VendorCertificate(pem: pem, source: "an earlier server certificate of the export")).flatMap {
                try? verifier.verify($0, for: .server).key.signingKey
            }
        }
    }

    /// Each vendor certificate of the bundle that the CA vouches for, by name.
    private func vendorKeys(_ log: LogExport.Header, _ store: TrustStore) -> [String: Ed25519PublicKey] {
        let verifier = store.verifier()
        var keys: [String: Ed25519PublicKey] = [:]
        for pem in log.vendorCertificates {
            if let certificate = try? VendorCertificate(pem: pem, source: "a vendor certificate of the bundle"),
                let party = try? verifier.verify(certificate, for: .recipient)
            {
                keys[party.name.value] = party.key.signingKey
            }
        }
        return keys
    }

    /// A trust store of the pinned CA and the bundle's revocation list.
    private func scratchStore(_ log: LogExport.Header) throws -> TrustStore {
        let pinned = try TrustStore.checkAnchor(path: ca)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-audit-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Data(pinned.pem.utf8).write(to: URL(fileURLWithPath: scratch + "/ca.pem"))
        try Data(log.revocations.utf8).write(to: URL(fileURLWithPath: scratch + "/" + TrustStore.revocationFile))
        return try TrustStore.load(directory: scratch)
    }
}
