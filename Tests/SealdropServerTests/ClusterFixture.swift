import Foundation
import SealdropStore
import SealdropStorePostgres
import Synchronization
import Testing
import TestSupport

/// Where the nodes of a `ClusterFixture` keep their metadata.
enum ClusterEngine: String, Sendable, CustomTestStringConvertible {
    /// One PostgreSQL database (a schema of its own per test), as a real cluster runs.
    case postgres
    /// One SQLite file in the shared data directory (nodes on one machine only).
    case sqlite

    var testDescription: String { rawValue }

    static let postgresURL = ProcessInfo.processInfo.environment["SEALDROP_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let postgresRequired = ProcessInfo.processInfo.environment["SEALDROP_REQUIRE_POSTGRES"] == "1"

    /// The cluster suites run on PostgreSQL when it is configured or
    /// required (ops/test requires it, so a missing database fails there);
    /// a plain `swift test` without it runs them on shared SQLite instead
    /// and says so. One engine per run: the suites are slow, and the store
    /// suite already runs the rules on both.
    static let forClusters: [ClusterEngine] = {
        if postgresURL != nil || postgresRequired { return [.postgres] }
        print(
            "note: SEALDROP_TEST_POSTGRES_URL is not set: the cluster suites run on one shared SQLite file instead of PostgreSQL; "
                + "ops/test runs them on PostgreSQL (or start one with ops/lib/postgres start DIR)")
        return [.sqlite]
    }()

    /// PostgreSQL only (tests of what only a shared database does); empty without it.
    static let postgresOnly: [ClusterEngine] = forClusters.contains(.postgres) ? [.postgres] : []

    /// A URL naming a fresh schema in the test database.
    static func freshDatabase() throws -> String {
        let url = try #require(postgresURL, "SEALDROP_TEST_POSTGRES_URL is not set but PostgreSQL tests are required (SEALDROP_REQUIRE_POSTGRES=1)")
        let schema = "cl_" + (0..<12).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
        return url + (url.contains("?") ? "&" : "?") + "schema=" + schema
    }
}

/// `sealdropd serve` nodes sharing metadata (one PostgreSQL schema, or one
/// SQLite file in a shared data directory) and one blob directory, each
/// with the cluster's keys; with `balancer`, behind a real HAProxy running
/// the committed ops/haproxy.cfg (`proxy-protocol-from = 127.0.0.1`).
final class ClusterFixture: @unchecked Sendable {
    let engine: ClusterEngine
    let nodes: [ServerFixture]
    let haproxy = Process()
    /// The balancer's port (0 without one).
    let balancerPort: Int
    let directory: TemporaryDirectory
    let hostKey: String
    let receiptKey: String
    /// `database = ...` for the nodes; nil on SQLite.
    let database: String?
    /// Settings every node has (keys, blob directory, database).
    let sharedSettings: [String]
    private let observer: Mutex<(any TransferStore)?> = Mutex(nil)

    init(_ engine: ClusterEngine, nodes count: Int = 3, balancer: Bool = true, extraSettings: [String] = []) throws {
        self.engine = engine
        // A first start on its own makes the data directory, certificates and example vendors.
        let first = try ServerFixture()
        first.stop()
        directory = first.directory
        hostKey = try ClusterNodeTests.makeKey(directory, "host_key")
        receiptKey = try ClusterNodeTests.makeKey(directory, "receipt_key")
        let certified = try first.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--role", "server", "--pubkey", "receipt_key.pub", "--days", "30",
        ])
        guard certified.status == 0 else { throw FixtureError.setup(certified.standardError) }
        database = engine == .postgres ? try ClusterEngine.freshDatabase() : nil
        sharedSettings =
            ["host-key = \(hostKey)", "receipt-key = \(receiptKey)", "blob-directory = \(directory.file("shared-blobs"))"]
            + (database.map { ["database = \($0)"] } ?? []) + (balancer ? ["proxy-protocol-from = 127.0.0.1"] : []) + extraSettings
        var nodes = [ServerFixture]()
        for index in 1...count {
            nodes.append(try ServerFixture(settings: ["node-id = node\(index)"] + sharedSettings, reusing: directory))
        }
        self.nodes = nodes
        guard balancer else {
            balancerPort = 0
            return
        }
        balancerPort = try ProxyProtocolTests.freePort()
        guard let path = Subprocess.which("haproxy") else { throw FixtureError.setup("HAProxy is installed by ops/lib/setup.sh (test packages)") }
        haproxy.executableURL = URL(fileURLWithPath: path)
        haproxy.arguments = ["-db", "-f", Fixtures.root + "/ops/haproxy.cfg"]
        // Fewer than three nodes: the remaining server lines repeat the last node.
        let ports = (0..<3).map { nodes[min($0, nodes.count - 1)].port }
        haproxy.environment = [
            "SEALDROP_BALANCER_BIND": "127.0.0.1:\(balancerPort)", "SEALDROP_NODE1": "127.0.0.1:\(ports[0])",
            "SEALDROP_NODE2": "127.0.0.1:\(ports[1])", "SEALDROP_NODE3": "127.0.0.1:\(ports[2])",
        ]
        haproxy.standardOutput = FileHandle.nullDevice
        haproxy.standardError = FileHandle.nullDevice
        try haproxy.run()
        // Wait until the balancer takes connections.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let fd = try? LoopbackSocket.connect(to: balancerPort, from: "127.0.0.1") {
                close(fd)
                break
            }
            usleep(50_000)
        }
    }

    deinit {
        stop()
    }

    func stop() {
        if haproxy.isRunning {
            haproxy.terminate()
            haproxy.waitUntilExit()
        }
        for node in nodes { node.stop() }
    }

    /// The shared metadata as the nodes see it (opened once; on PostgreSQL
    /// as a node of its own that serves nothing).
    func store() throws -> any TransferStore {
        try observer.withLock { observer throws -> any TransferStore in
            if let observer { return observer }
            let opened: any TransferStore
            if let database {
                opened = try PostgresTransferStore(settings: PostgresSettings(url: database), nodeID: "observer-\(UUID().uuidString)")
            } else {
                opened = try SQLiteTransferStore(path: directory.file("data/metadata.sqlite"))
            }
            observer = opened
            return opened
        }
    }

    /// The receipt log's events.
    func events() throws -> [TransferEvent] { try store().events() }

    /// `--database URL` for `sealdropd` commands run beside the nodes (empty on SQLite).
    var databaseArguments: [String] { database.map { ["--database", $0] } ?? [] }

    /// OpenSSH `sftp -b` through the balancer.
    func sftp(_ user: String, _ commands: [String]) throws -> ProcessResult {
        try nodes[0].sftp(user, port: balancerPort, commands)
    }

    /// `sealdrop` profiles whose server is the balancer.
    func clientEnvironment() throws -> [String: String] {
        var environment = try ClientIntegrationTests.profiles(nodes[0])
        environment["SEALDROP_SERVER"] = "127.0.0.1:\(balancerPort)"
        return environment
    }
}
