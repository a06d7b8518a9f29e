import Foundation
@testable import SealdropServer
import SealdropSFTP
import Testing

/// The whole operation table, cell by cell, and proof the session obeys it.
@Suite struct SFTPOperationTableTests {
    /// Columns in `PathKind.allCases` order: root inbox inboxFile outbox
    /// outboxVendor outboxFile sent sentFile directory directoryFile receipts
    /// receiptFile acknowledgment declaration receiptHead receiptConsistency outsideTree.
    /// R allowed, reads; W allowed, writes; h hidden (no such file); - denied; u unsupported.
    static let expected: [SFTPOperation: String] = [
        .openForReading: "--W------R-R--RRh",
        .openForWriting: "-----W------WW--h",
        .close: "RRWRRWR-RRRRWWRRh",
        .read: "--W------R-R--RRh",
        .write: "-----W------WW--h",
        .lstat: "RRRRRRRRRRRRhhRRh",
        .stat: "RRRRRRRRRRRRhhRRh",
        .fstat: "RRRRRRR-RRRRRRRRh",
        .setstat: "-----R----------h",
        .fsetstat: "-----R----------h",
        .opendir: "RR-RR-R-R-R-----h",
        .readdir: "RR-RR-R-R-R-----h",
        .remove: "-------W--------h",
        .mkdir: "-----------------",
        .rmdir: "-----------------",
        .realpath: "RRRRRRRRRRRRRRRRh",
        .rename: "-----R-----------",
        .readlink: "uuuuuuuuuuuuuuuuu",
        .symlink: "-----------------",
        .extended: "----------------R",
    ]

    static func letter(_ rule: SFTPOperationTable.Rule) -> Character {
        switch rule {
        case .allowed(writes: false): "R"
        case .allowed(writes: true): "W"
        case .hidden: "h"
        case .denied: "-"
        case .unsupported: "u"
        }
    }

    @Test func everyOperationOnEveryKindOfPath() {
        #expect(Set(Self.expected.keys) == Set(SFTPOperation.allCases), "a row for every operation")
        for operation in SFTPOperation.allCases {
            let row = String(PathKind.allCases.map { Self.letter(SFTPOperationTable.rule(for: operation, on: $0)) })
            #expect(row == Self.expected[operation], "\(operation)")
        }
    }

    @Test func everyRequestTypeIsAnOperation() {
        let requests: [SFTPMessage] = [
            .open(id: 1, path: [], flags: .read, attributes: .empty), .close(id: 1, handle: []), .read(id: 1, handle: [], offset: 0, length: 0),
            .write(id: 1, handle: [], offset: 0, data: []), .lstat(id: 1, path: []), .fstat(id: 1, handle: []),
            .setstat(id: 1, path: [], attributes: .empty), .fsetstat(id: 1, handle: [], attributes: .empty), .opendir(id: 1, path: []),
            .readdir(id: 1, handle: []), .remove(id: 1, path: []), .mkdir(id: 1, path: [], attributes: .empty), .rmdir(id: 1, path: []),
            .realpath(id: 1, path: []), .stat(id: 1, path: []), .rename(id: 1, from: [], to: []), .readlink(id: 1, path: []),
            .symlink(id: 1, linkPath: [], targetPath: []), .extended(id: 1, request: [], data: []),
        ]
        let requestTypes = SFTPMessage.PacketType.allCases.filter { $0.rawValue >= 3 && $0.rawValue <= 20 || $0 == .extended }
        #expect(Set(requests.map(\.packetType)) == Set(requestTypes))
        for request in requests { #expect(SFTPOperation(request) != nil, "\(request.packetType)") }
        #expect(SFTPOperation(.open(id: 1, path: [], flags: [.read, .append], attributes: .empty)) == .openForWriting)
        #expect(SFTPOperation(.status(id: 1, code: .ok, message: "")) == nil)
    }

    static let id = RulesHarness.id
    static let samples: [PathKind: String] = [
        .root: "/", .inbox: "/inbox", .inboxFile: "/inbox/\(id).sealdrop", .outbox: "/outbox", .outboxVendor: "/outbox/oldvendor",
        .outboxFile: "/outbox/oldvendor/x", .sent: "/sent", .sentFile: "/sent/\(id).sealdrop", .directory: "/directory",
        .directoryFile: "/directory/ca.pem", .receipts: "/receipts", .receiptFile: "/receipts/\(id).json",
        .acknowledgment: "/receipts/\(id).ack", .declaration: "/receipts/\(id).declaration", .outsideTree: "/etc/passwd",
        .receiptHead: "/receipts/head", .receiptConsistency: "/receipts/consistency-3.json",
    ]

    static func request(_ operation: SFTPOperation, _ path: [UInt8]) -> SFTPMessage? {
        switch operation {
        case .openForReading: .open(id: 9, path: path, flags: .read, attributes: .empty)
        case .openForWriting: .open(id: 9, path: path, flags: [.write, .create, .truncate], attributes: .empty)
        case .lstat: .lstat(id: 9, path: path)
        case .stat: .stat(id: 9, path: path)
        case .setstat: .setstat(id: 9, path: path, attributes: .empty)
        case .opendir: .opendir(id: 9, path: path)
        case .remove: .remove(id: 9, path: path)
        case .mkdir: .mkdir(id: 9, path: path, attributes: .empty)
        case .rmdir: .rmdir(id: 9, path: path)
        case .realpath: .realpath(id: 9, path: path)
        case .rename: .rename(id: 9, from: path, to: Array("/x".utf8))
        case .readlink: .readlink(id: 9, path: path)
        case .symlink: .symlink(id: 9, linkPath: path, targetPath: Array("/x".utf8))
        case .close, .read, .write, .fstat, .fsetstat, .readdir, .extended: nil
        }
    }

    /// What the session answered, in the table's letters: a refusal for the
    /// table's reasons, or "allowed" for anything else (an effect, a reply,
    /// or a refusal for another reason such as a missing file).
    static func observed(_ action: SessionAction?) -> Character {
        guard let refusal = action?.refusal else { return "A" }
        switch (refusal.code, refusal.record.kind) {
        case (.permissionDenied, .operationDenied): return "-"
        case (.operationUnsupported, _): return "u"
        case (.noSuchFile, .notFound): return "h"
        default: return "A"
        }
    }

    @Test func theSessionObeysTheTableForEveryPathRequest() throws {
        for operation in SFTPOperation.allCases {
            for kind in PathKind.allCases {
                guard let message = Self.request(operation, Array(Self.samples[kind]!.utf8)) else { continue }
                var session = RulesHarness(vendor: "oldvendor")
                session.view.transfers = [RulesHarness.transfer(sender: "oldvendor")]
                session.view.transfers[0].recipient = "oldvendor"
                let rule = SFTPOperationTable.rule(for: operation, on: kind)
                let seen = Self.observed(session.receive(message))
                switch rule {
                case .allowed: #expect(seen != "-" && seen != "u", "\(operation) on \(kind) is allowed but was refused")
                case .hidden: #expect(seen == "h", "\(operation) on \(kind)")
                case .denied: #expect(seen == "-", "\(operation) on \(kind)")
                case .unsupported: #expect(seen == "u", "\(operation) on \(kind)")
                }
            }
        }
    }

    @Test func theSessionObeysTheTableForEveryHandleRequest() throws {
        let handleOperations: [SFTPOperation] = [.close, .read, .write, .fstat, .fsetstat, .readdir]
        for kind in PathKind.allCases {
            for operation in handleOperations {
                var session = RulesHarness(vendor: "newvendor")
                session.view.transfers = [RulesHarness.transfer()]
                session.view.transfers[0].state = .delivered
                session.view.transfers.append(RulesHarness.transfer(sender: "newvendor"))
                session.view.transfers[1].id = String(repeating: "cd", count: 16)
                let sample = Self.samples[kind]!
                let path = Array((kind == .declaration ? sample.replacingOccurrences(of: Self.id, with: session.view.transfers[1].id) : sample).utf8)
                // A handle of this kind, if one can be had.
                var handle: [UInt8]?
                switch session.receive(
                    PathKind.folders.contains(kind) ? .opendir(id: 1, path: path) : .open(id: 1, path: path, flags: .read, attributes: .empty))
                {
                case .reply(.handle(_, let granted))?: handle = granted
                case .claimDownload(let granted, _)?:
                    _ = session.resume(.claimed(session.view.transfers[0]))
                    handle = granted
                default: break
                }
                if handle == nil, case .startUpload(let granted)? = session.receive(.open(id: 1, path: path, flags: [.write, .create], attributes: .empty)) {
                    _ = session.resume(.done)
                    handle = granted
                }
                guard let handle else { continue }
                let message: SFTPMessage =
                    switch operation {
                    case .close: .close(id: 2, handle: handle)
                    case .read: .read(id: 2, handle: handle, offset: 0, length: 10)
                    case .write: .write(id: 2, handle: handle, offset: 0, data: [1])
                    case .fstat: .fstat(id: 2, handle: handle)
                    case .fsetstat: .fsetstat(id: 2, handle: handle, attributes: .empty)
                    default: .readdir(id: 2, handle: handle)
                    }
                let rule = SFTPOperationTable.rule(for: operation, on: kind)
                let seen = Self.observed(session.receive(message))
                if case .allowed = rule {
                    #expect(seen == "A", "\(operation) on a \(kind) handle is allowed but was refused")
                } else {
                    #expect(seen == "-", "\(operation) on a \(kind) handle")
                }
            }
        }
    }
}
