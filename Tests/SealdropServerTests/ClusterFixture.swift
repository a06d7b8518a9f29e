import Foundation
import TestSupport

/// Three `sealdropd serve` nodes on one data directory (shared SQLite
/// metadata) and one shared blob directory, each with the cluster's keys
/// and `proxy-protocol-from = 127.0.0.1`, behind a real HAProxy running
/// the committed ops/haproxy.cfg.
final class ClusterFixture: @unchecked Sendable {
    let nodes: [ServerFixture]
    let haproxy = Process()
    let balancerPort: Int
    let directory: TemporaryDirectory
    let receiptKey: String

    init(extraSettings: [String] = []) throws {
        let first = try ServerFixture()
        first.stop()
        directory = first.directory
        let host = try ClusterNodeTests.makeKey(directory, "host_key")
        receiptKey = try ClusterNodeTests.makeKey(directory, "receipt_key")
        let certified = try first.sealdrop([
            "ca", "issue", "--ca-dir", "ca", "--name", "receipts", "--role", "server", "--pubkey", "receipt_key.pub", "--days", "30",
        ])
        guard certified.status == 0 else { throw FixtureError.setup(certified.standardError) }
        var nodes = [ServerFixture]()
        for index in 1...3 {
            let settings =
                ClusterNodeTests.nodeSettings("node\(index)", host: host, receipt: receiptKey) + [
                    "blob-directory = \(directory.file("shared-blobs"))", "proxy-protocol-from = 127.0.0.1",
                ] + extraSettings
            nodes.append(try ServerFixture(settings: settings, reusing: directory))
        }
        self.nodes = nodes
        balancerPort = try ProxyProtocolTests.freePort()
        guard let path = Subprocess.which("haproxy") else { throw FixtureError.setup("HAProxy is installed by ops/lib/setup.sh (test packages)") }
        haproxy.executableURL = URL(fileURLWithPath: path)
        haproxy.arguments = ["-db", "-f", Fixtures.root + "/ops/haproxy.cfg"]
        haproxy.environment = [
            "SEALDROP_BALANCER_BIND": "127.0.0.1:\(balancerPort)", "SEALDROP_NODE1": "127.0.0.1:\(nodes[0].port)",
            "SEALDROP_NODE2": "127.0.0.1:\(nodes[1].port)", "SEALDROP_NODE3": "127.0.0.1:\(nodes[2].port)",
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

    /// OpenSSH `sftp -b` through the balancer.
    func sftp(_ user: String, _ commands: [String]) throws -> ProcessResult {
        try nodes[0].sftp(user, port: balancerPort, commands)
    }
}
