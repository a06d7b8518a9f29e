import ArgumentParser
import Foundation
import SealdropKeys
import SealdropMetrics
import SealdropServer
import SealdropSSH
import SealdropStore

/// `sealdropd serve`: the drop box over SSH.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the drop box over SSH (public-key login, sftp only).",
        discussion: """
            With no options: data in ./sealdrop-data, trust store ./Certificates, listening \
            on 127.0.0.1:2222. The first start creates the SSH host key and prints its \
            fingerprint for vendors to pin. ops/sealdropd.conf documents every setting.
            """
    )

    @OptionGroup var options: SettingsOptions

    @Option(help: ArgumentHelp("Where to listen, HOST:PORT (overrides the file); port 0 picks a free one.", valueName: "host:port"))
    var listen: String?

    func run() throws {
        var settings = try options.settings()
        do {
            if let listen { try settings.setListen(listen) }
            // A named node is one of several: its keys are the cluster's files.
            if settings.dropBox.nodeID != nil { try settings.requireClusterKeys() }
            if let path = settings.dropBox.receiptKeyPath, !FileManager.default.fileExists(atPath: path) {
                throw SettingsError(
                    "the receipt key \(path) (receipt-key) does not exist; make it once with ssh-keygen -t ed25519 -N '' -f \(path) and copy it to every node")
            }
        } catch let error as SettingsError {
            throw ValidationError(error.message)
        }
        // Where it will listen is checked first: an address it cannot bind
        // leaves no data folder or host key behind.
        do {
            try SSHServer.checkListen(host: settings.listenHost, port: settings.listenPort)
        } catch {
            throw ValidationError(error.message)
        }
        let metrics = DropBoxMetrics()
        let listener: MetricsListener?
        do {
            listener = try settings.metricsListen.map { try MetricsListener(host: $0.host, port: $0.port, metrics: metrics) }
        } catch {
            throw ValidationError("\(error)")
        }
        // Everything the server creates is its own: files 0600, folders 0700.
        umask(0o077)
        if settings.database != nil {
            // Nodes sharing a database must share their keys: none is made
            // here. Each comes from its setting, or else from the data directory.
            for (setting, given, key) in [
                ("host-key", settings.hostKeyPath, "ssh_host_ed25519_key"), ("receipt-key", settings.dropBox.receiptKeyPath, ReceiptLog.keyFile),
            ] where given == nil && !FileManager.default.fileExists(atPath: settings.dropBox.dataDirectory + "/" + key) {
                throw ValidationError(
                    "\(setting) is not set and \(settings.dropBox.dataDirectory)/\(key) is missing: with a shared database every node needs the same keys, and none is made automatically"
                )
            }
        }
        let dropBox: DropBox
        let store = try settings.openStore(nodeID: settings.dropBox.nodeID)
        do {
            dropBox = try DropBox(configuration: settings.dropBox, store: store, log: DaemonLog.line, metrics: metrics)
        } catch let error as PrivateDirectoryError {
            throw ValidationError(error.description)
        }
        let hostKey = try settings.hostKeyPath.map(HostKey.load) ?? HostKey.loadOrCreate(in: settings.dropBox.dataDirectory)
        let receipts = ReceiptLog(dropBox: dropBox)
        if settings.database != nil || settings.hostKeyPath != nil || settings.dropBox.receiptKeyPath != nil {
            try checkClusterKeys(dropBox, ClusterKeys(hostKey: hostKey.fingerprint, receiptKey: receipts.key.fingerprint.description))
        }
        let server = try SSHServer(
            host: settings.listenHost, port: settings.listenPort, hostKeyPath: hostKey.path, backlog: settings.listenBacklog)
        print("host key fingerprint: \(hostKey.fingerprint)")
        print(
            "receipt key: \(receipts.key.fingerprint) (certify it: sealdrop ca issue --role server --pubkey \(settings.dropBox.receiptKeyPath ?? settings.dropBox.dataDirectory + "/" + ReceiptLog.keyFile).pub)"
        )
        if let problem = receipts.certificationProblem() {
            DaemonLog.line("warning: " + problem)
            // Look at the trust files again on the next request: a certificate
            // issued right after this warning is then used at once.
            dropBox.refreshTrust()
        }
        // Before "listening on": whoever waits for that line finds the metrics address above it.
        let exposition = MetricsExposition(settings: settings, dropBox: dropBox, listener: listener)
        try exposition.start()
        print("listening on \(settings.listenHost):\(server.port)")
        fflush(nil)
        DaemonLog.line("serving \(settings.dropBox.dataDirectory) with trust store \(settings.dropBox.trustDirectory)")
        dropBox.reap()
        dropBox.startReaper()
        SessionAcceptor(server: server, dropBox: dropBox, settings: settings, shared: store as? any SharedNodeState).runUntilSignalled()
        exposition.stop()
    }
}

extension ServeCommand {
    /// The first node records its key fingerprints in the store; every
    /// later one must present the same, or vendors pinning the host key (and
    /// auditors checking tree heads) would see two servers.
    func checkClusterKeys(_ dropBox: DropBox, _ mine: ClusterKeys) throws {
        let recorded = try dropBox.clusterKeys(record: mine)
        if recorded.hostKey != mine.hostKey {
            throw ValidationError(
                "this node's host key \(mine.hostKey) is not the cluster's \(recorded.hostKey), recorded by the first node; give every node the same host-key file"
            )
        }
        if recorded.receiptKey != mine.receiptKey {
            throw ValidationError(
                "this node's receipt key \(mine.receiptKey) is not the cluster's \(recorded.receiptKey), recorded by the first node; give every node the same receipt-key file"
            )
        }
    }
}

/// The server's SSH host key: an Ed25519 key in the data directory, made on
/// first start, or a file the operator gives (`host-key`), never made.
enum HostKey {
    static func load(path: String) throws -> (path: String, fingerprint: String) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError(
                "the host key \(path) (host-key) does not exist; make it once with ssh-keygen -t ed25519 -N '' -f \(path) and copy it to every node")
        }
        return (path, try VendorIdentity.load(path: path, passphrase: .none).fingerprint.description)
    }

    static func loadOrCreate(in directory: String) throws -> (path: String, fingerprint: String) {
        let path = directory + "/ssh_host_ed25519_key"
        if !FileManager.default.fileExists(atPath: path) {
            try VendorIdentity.generate(comment: "sealdropd host key").write(to: path)
            DaemonLog.line("created the SSH host key \(path)")
        }
        let identity = try VendorIdentity.load(path: path, passphrase: .none)
        return (path, identity.fingerprint.description)
    }
}
