import ArgumentParser
import SealdropServer

/// `--config`, `--data` and `--trust` for the commands that work on an
/// installed drop box (`serve`, `sftp-subsystem`, `authorized-keys`, `sweep`,
/// `backup`, `restore`, `log export`, `log rotate-key`): the settings file first, then the flags, so one
/// `--config /etc/sealdrop/sealdropd.conf` names everything.
struct SettingsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server's settings file (key = value), as `serve --config` reads it.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The data directory (overrides the file; default ./sealdrop-data).", valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("The trust store (overrides the file; default ./Certificates).", valueName: "dir"))
    var trust: String?

    @Option(
        help: ArgumentHelp(
            "The metadata database when it is not the SQLite file in the data directory: postgres://USER@HOST:PORT/DB (overrides the file).",
            valueName: "url"))
    var database: String?

    /// The settings these options describe; a bad file is a usage error naming its line.
    func settings() throws -> ServerSettings {
        var settings = ServerSettings()
        do {
            if let config { try settings.load(file: config) }
            if let database { try settings.setDatabase(database) }
        } catch let error as SettingsError {
            throw ValidationError(error.message)
        }
        if let data { settings.dropBox.dataDirectory = data }
        if let trust { settings.dropBox.trustDirectory = trust }
        return settings
    }
}

extension ServerSettings {
    /// The drop box these settings describe, opened beside a running server
    /// (no start-up sweep); a data directory it cannot use is a usage error.
    func openRunningDropBox() throws -> DropBox {
        do {
            return try DropBox(configuration: dropBox, store: openStore(), log: DaemonLog.line, startingUp: false)
        } catch let error as PrivateDirectoryError {
            throw ValidationError(error.description)
        }
    }
}
