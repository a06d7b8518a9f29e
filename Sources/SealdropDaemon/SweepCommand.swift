import ArgumentParser
import Foundation
import SealdropServer

/// `sealdropd sweep`: one pass of the background work `serve` does, for the
/// mode where the host's sshd serves and no `sealdropd` process lives on
/// (run by `sealdrop-sweep.timer`). Safe while sessions run: claims are left
/// to their leases and only abandoned staging files go.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Expire due transfers, settle lapsed claims, remove orphan blobs and abandoned uploads, once."
    )

    @Option(help: ArgumentHelp("Remove staging files unmodified for this long (default 1h).", valueName: "duration"))
    var stagingIdle = "1h"

    @OptionGroup var options: SettingsOptions

    func run() throws {
        let settings = try options.settings()
        let idle: TimeInterval
        do {
            idle = try ServerSettings.duration(stagingIdle, "--staging-idle")
        } catch let error as SettingsError {
            throw ValidationError(error.message)
        }
        umask(0o077)
        let dropBox = try settings.openRunningDropBox()
        let result = try dropBox.sweepOnce(stagingMaximumIdle: idle)
        print("sweep: \(result.ended) transfers ended, \(result.stagingRemoved) abandoned uploads removed")
    }
}
