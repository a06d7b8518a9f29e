import ArgumentParser
import Foundation
import SealdropKeys
import SealdropServer
import SealdropSSH

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

    @Option(help: ArgumentHelp("A settings file (key = value).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The data directory (overrides the file).", valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("The trust store (overrides the file).", valueName: "dir"))
    var trust: String?

    @Option(help: ArgumentHelp("Where to listen, HOST:PORT (overrides the file); port 0 picks a free one.", valueName: "host:port"))
    var listen: String?

    @Option(
        help: ArgumentHelp(
            "The metadata database: sqlite (the file in the data directory) or postgres://USER@HOST:PORT/DB (overrides the file).",
            valueName: "url"))
    var database: String?

    func run() throws {
        var settings = ServerSettings()
        do {
            if let config { try settings.load(file: config) }
            if let data { settings.dropBox.dataDirectory = data }
            if let trust { settings.dropBox.trustDirectory = trust }
            if let listen { try settings.setListen(listen) }
            if let database { try settings.setDatabase(database) }
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
        // Everything the server creates is its own: files 0600, folders 0700.
        umask(0o077)
        if settings.database != nil {
            // Nodes sharing a database must share their keys: none is made here.
            for key in ["ssh_host_ed25519_key", ReceiptLog.keyFile] where !FileManager.default.fileExists(atPath: settings.dropBox.dataDirectory + "/" + key) {
                throw ValidationError(
                    "\(settings.dropBox.dataDirectory)/\(key) is missing: with a shared database every node needs the same keys, and none is made automatically"
                )
            }
        }
        let dropBox: DropBox
        do {
            dropBox = try DropBox(configuration: settings.dropBox, store: settings.openStore(), log: DaemonLog.line)
        } catch let error as PrivateDirectoryError {
            throw ValidationError(error.description)
        }
        let hostKey = try HostKey.loadOrCreate(in: settings.dropBox.dataDirectory)
        let server = try SSHServer(
            host: settings.listenHost, port: settings.listenPort, hostKeyPath: hostKey.path, backlog: settings.listenBacklog)
        let receipts = ReceiptLog(dropBox: dropBox)
        print("host key fingerprint: \(hostKey.fingerprint)")
        print(
            "receipt key: \(receipts.key.fingerprint) (certify it: sealdrop ca issue --role server --pubkey \(settings.dropBox.dataDirectory)/\(ReceiptLog.keyFile).pub)"
        )
        if let problem = receipts.certificationProblem() {
            DaemonLog.line("warning: " + problem)
            // Look at the trust files again on the next request: a certificate
            // issued right after this warning is then used at once.
            dropBox.refreshTrust()
        }
        print("listening on \(settings.listenHost):\(server.port)")
        fflush(nil)
        DaemonLog.line("serving \(settings.dropBox.dataDirectory) with trust store \(settings.dropBox.trustDirectory)")
        dropBox.reap()
        dropBox.startReaper()
        SessionAcceptor(server: server, dropBox: dropBox, settings: settings).runUntilSignalled()
    }
}

/// The server's SSH host key: an Ed25519 key in the data directory, made on first start.
enum HostKey {
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
