import FuzzSupport
import Foundation

// `ops/fuzz` builds with -enable-testing so the daemon's internal settings
// can be read; a debug build enables testing anyway.
@testable import SealdropDaemon

// Fuzz target: the server's configuration file (`sealdropd serve --config`),
// bytes in, settings or an error out.
//
// Properties besides "never traps": text that is not UTF-8 is what `load`
// refuses before parsing, so it is skipped; an error names the file and a
// line of it; settings that load hold only values the server can use
// (durations above zero and at most the ten-year ceiling, counts above
// zero, a port that exists); the same text gives the same settings; each
// line of a file that loads also loads alone (lines do not depend on one
// another), and a file loads exactly when each of its lines does.
@main
enum FuzzSettings {
    static func main() { fuzzMain(checkSettings) }
}

let origin = "fuzz.conf"

func checkSettings(_ bytes: [UInt8]) {
    guard let text = String(validating: bytes, as: UTF8.self) else { return }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    var settings = ServerSettings()
    do {
        try settings.apply(text: text, origin: origin)
    } catch let error as SettingsError {
        let prefix = "\(origin):"
        guard error.message.hasPrefix(prefix),
            let number = Int(error.message.dropFirst(prefix.count).prefix { $0 != ":" }), (1...lines.count).contains(number)
        else { fatalError("a settings error names no line of the file: \(error.message)") }
        // The line it names fails alone too: the error is that line's.
        var alone = ServerSettings()
        guard (try? alone.apply(text: String(lines[number - 1]), origin: origin)) == nil else {
            fatalError("line \(number) is blamed but loads alone: \(error.message)")
        }
        return
    } catch {
        fatalError("a settings error that is not a SettingsError: \(error)")
    }
    checkUsable(settings)
    var again = ServerSettings()
    guard (try? again.apply(text: text, origin: origin)) != nil, fingerprint(again) == fingerprint(settings) else {
        fatalError("the same file gives other settings the second time")
    }
    for line in lines {
        var alone = ServerSettings()
        guard (try? alone.apply(text: String(line), origin: origin)) != nil else {
            fatalError("a line of a file that loads does not load alone: \(line)")
        }
    }
}

/// Values the server converts (milliseconds in Int32 and Int64, dates,
/// days in messages, thread counts) must be in range once loaded.
func checkUsable(_ settings: ServerSettings) {
    let box = settings.dropBox
    let durations = [
        box.defaultExpiry, box.maximumExpiry, box.reaperInterval, box.claimLease, box.trustCheckInterval, box.refusalWindow,
        settings.loginTimeout, settings.idleTimeout, settings.revocationCheckInterval, settings.maximumSessionLifetime, settings.shutdownGrace,
    ]
    for duration in durations where !(duration > 0 && duration <= ServerSettings.maximumDuration) {
        fatalError("a duration of \(duration) s was accepted")
    }
    let counts = [
        box.maximumPendingPerVendor, settings.maximumSessions, settings.maximumSessionsPerVendor, settings.failedLoginsPerMinute,
        settings.loginLimits.perSource, settings.loginLimits.start, settings.loginLimits.full, settings.loginLimits.rate, Int(settings.listenBacklog),
    ]
    for count in counts where count <= 0 { fatalError("a count of \(count) was accepted") }
    let logins = settings.loginLimits
    guard logins.start <= logins.full, logins.rate <= 100, (1...32).contains(logins.ipv4Prefix), (1...128).contains(logins.ipv6Prefix) else {
        fatalError("login limits \(logins) were accepted")
    }
    guard (0...65535).contains(settings.listenPort) else { fatalError("the port \(settings.listenPort) was accepted") }
}

/// Everything the file can set, as text, to compare two loads.
func fingerprint(_ settings: ServerSettings) -> String {
    let box = settings.dropBox
    return [
        settings.listenHost, "\(settings.listenPort)", box.dataDirectory, box.trustDirectory, "\(box.defaultExpiry)", "\(box.maximumExpiry)",
        "\(box.maximumFileSize)", "\(box.maximumStoredBytesPerVendor)", "\(box.maximumPendingPerVendor)", "\(box.reaperInterval)",
        "\(settings.maximumSessions)", "\(settings.maximumSessionsPerVendor)", "\(settings.loginTimeout)", "\(settings.idleTimeout)",
        "\(settings.failedLoginsPerMinute)", "\(settings.loginLimits)", "\(settings.listenBacklog)", "\(box.claimLease)",
        "\(box.trustCheckInterval)", "\(box.refusalWindow)", "\(settings.revocationCheckInterval)", "\(settings.maximumSessionLifetime)",
        "\(settings.shutdownGrace)",
    ].joined(separator: "\u{0}")
}
