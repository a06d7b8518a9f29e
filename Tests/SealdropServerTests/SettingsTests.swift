import Foundation
@testable import SealdropDaemon
import Testing
import TestSupport

@Suite struct SettingsTests {
    @Test func theExampleFileIsValidAndHoldsTheDefaults() throws {
        var settings = ServerSettings()
        try settings.load(file: Fixtures.root + "/ops/sealdropd.conf")
        let defaults = ServerSettings()
        #expect(settings.listenPort == defaults.listenPort)
        #expect(settings.dropBox.maximumExpiry == defaults.dropBox.maximumExpiry)
        #expect(settings.dropBox.maximumFileSize == 64 << 30)
        #expect(settings.idleTimeout == 600)
        #expect(settings.failedLoginsPerMinute == defaults.failedLoginsPerMinute)
    }

    @Test(arguments: ["nonsense", "listen = nowhere", "maximum-expiry = 14 days", "vendor-quota = lots", "colour = blue", "maximum-sessions = 0"])
    func badLinesAreNamed(_ line: String) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(Array("# ok\n\(line)\n".utf8), to: "bad.conf")
        var settings = ServerSettings()
        do {
            try settings.load(file: path)
            Issue.record("accepted \(line)")
        } catch {
            #expect("\(error)".hasPrefix("\(path):2: "), "\(error)")
        }
    }
}
