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
        #expect(settings.listenBacklog == defaults.listenBacklog && settings.listenBacklog == 1024)
        #expect(settings.dropBox.claimLease == defaults.dropBox.claimLease && settings.dropBox.claimLease == 60)
        #expect(settings.dropBox.trustCheckInterval == defaults.dropBox.trustCheckInterval)
        #expect(settings.dropBox.refusalWindow == defaults.dropBox.refusalWindow)
        #expect(settings.revocationCheckInterval == defaults.revocationCheckInterval && settings.revocationCheckInterval <= 60)
        #expect(settings.maximumSessionLifetime == defaults.maximumSessionLifetime && settings.maximumSessionLifetime == 12 * 3600)
        #expect(settings.shutdownGrace == defaults.shutdownGrace)
    }

    @Test func lifecycleSettingsAreRead() throws {
        var settings = ServerSettings()
        for (key, value) in [
            ("claim-lease", "90s"), ("revocation-check-interval", "5s"), ("maximum-session-lifetime", "2h"), ("shutdown-grace", "30s"),
            ("listen-backlog", "4096"), ("trust-check-interval", "1s"), ("refusal-window", "1m"),
        ] {
            try settings.set(key, value)
        }
        #expect(settings.dropBox.claimLease == 90)
        #expect(settings.revocationCheckInterval == 5)
        #expect(settings.maximumSessionLifetime == 7200)
        #expect(settings.shutdownGrace == 30)
        #expect(settings.listenBacklog == 4096)
        #expect(settings.dropBox.trustCheckInterval == 1)
        #expect(settings.dropBox.refusalWindow == 60)
    }

    @Test(arguments: [
        "nonsense", "listen = nowhere", "maximum-expiry = 14 days", "vendor-quota = lots", "colour = blue", "maximum-sessions = 0", "claim-lease = 0s",
        "claim-lease = 0.5s",
        "listen-backlog = -1", "maximum-session-lifetime = forever",
        // Numbers that parse but would trap later: a size past 2^64, an
        // infinite or absurd duration (timeouts become Int32 milliseconds).
        "maximum-file-size = 99999999999T", "vendor-quota = 18446744073709551615K", "idle-timeout = infs", "claim-lease = 1e300s",
        "maximum-expiry = 4000d", "login-timeout = nans", "reaper-interval = -infs",
        // Node settings: addresses only (no names), node ids that are safe file names.
        "proxy-protocol-from = balancer.example", "proxy-protocol-from = 127.0.0.1, nowhere", "proxy-protocol-from = ,",
        "proxy-header-timeout = 0s", "node-id = ../escape", "node-id = .hidden", "node-id = subsystem", "node-id = default",
        "node-id = a/b",
    ])
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

    @Test func aClaimLeaseShorterThanASecondIsRefused() throws {
        var settings = ServerSettings()
        do {
            try settings.set("claim-lease", "0.5s")
            Issue.record("accepted a 0.5 s lease")
        } catch {
            #expect("\(error)" == "claim-lease must be at least 1s: a live download renews its claim every quarter of it")
        }
        // Shorter than the 15 s renewal interval, and accepted: renewed every quarter of it.
        try settings.set("claim-lease", "10s")
        #expect(settings.dropBox.claimLease == 10)
    }

    @Test func nodeSettingsAreRead() throws {
        var settings = ServerSettings()
        for (key, value) in [
            ("proxy-protocol-from", "127.0.0.1, ::0001, [::2]"), ("proxy-header-timeout", "2s"), ("node-id", "node-1.a_b"),
            ("host-key", "/etc/sealdrop/host"), ("receipt-key", "/etc/sealdrop/receipt"), ("blob-directory", "/srv/blobs"),
        ] {
            try settings.set(key, value)
        }
        #expect(settings.proxyProtocolFrom == ["127.0.0.1", "::1", "::2"], "addresses written as the server writes peers")
        #expect(settings.proxyHeaderTimeout == 2)
        #expect(settings.dropBox.nodeID == "node-1.a_b")
        #expect(settings.hostKeyPath == "/etc/sealdrop/host" && settings.dropBox.receiptKeyPath == "/etc/sealdrop/receipt")
        #expect(settings.dropBox.blobDirectory == "/srv/blobs/blobs" && settings.dropBox.stagingDirectory == "/srv/blobs/staging/node-1.a_b")
        #expect(throws: SettingsError.self) { try ServerSettings().requireClusterKeys() }
        try settings.requireClusterKeys()
    }
}
