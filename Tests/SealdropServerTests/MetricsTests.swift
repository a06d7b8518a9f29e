import Foundation
@testable import SealdropDaemon
import SealdropMetrics
import Synchronization
import Testing
import TestSupport

/// The metrics of a real `sealdropd serve`: the textfile node_exporter
/// collects and the loopback listener, read while a transfer runs and after.
@Suite struct MetricsTests {
    /// `sftp -l`: Kbit/s, so a 2 MB envelope takes about 4 s and is seen in flight.
    static let throttle = "4000"

    @Test func aTransferMovesTheCountersInTheFileAndOnTheListener() throws {
        let out = try TemporaryDirectory()
        let file = out.file("sealdrop.prom")
        let server = try ServerFixture(settings: ["metrics-file = \(file)", "metrics-interval = 1s", "metrics-listen = 127.0.0.1:0"])
        let url = try #require(Self.metricsURL(server.startupOutput), "\(server.startupOutput)")

        // Written once at start, readable by node_exporter whatever the server's umask.
        var info = stat()
        #expect(stat(file, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o644)
        let initial = try Exposition(path: file)
        #expect(initial["sealdrop_sessions_open"] == 0)
        #expect(initial["sealdrop_uploads_published_total"] == 0)
        #expect(initial[#"sealdrop_uploads_rejected_total{reason="envelope"}"#] == 0, "every series is there from the start")

        let envelope = try server.seal(Fixtures.bytes(2_000_000, seed: 21))
        let size = Double(try server.directory.read(envelope).count)
        let upload = try Self.startSFTP(server, "oldvendor", ["put \(envelope) /outbox/newvendor/"])
        var inFlight = (listener: false, file: false)
        while upload.isRunning {
            let live = try Exposition(text: try Self.scrape(url))
            let received = live["sealdrop_bytes_received_total"] ?? 0
            if live["sealdrop_sessions_open"] == 1, received > 0, received < size { inFlight.listener = true }
            // Every read parses whole: the file is replaced, never written in place.
            let seen = try Exposition(path: file)
            if seen["sealdrop_sessions_open"] == 1 { inFlight.file = true }
            usleep(100_000)
        }
        #expect(upload.terminationStatus == 0)
        #expect(inFlight.listener, "the listener showed the upload's session and part of its bytes")
        #expect(inFlight.file, "the file showed the upload's session")

        let uploaded = try Exposition(text: try Self.scrape(url))
        #expect(uploaded["sealdrop_uploads_published_total"] == 1)
        #expect(uploaded[#"sealdrop_transfers_total{state="published"}"#] == 1)
        #expect(uploaded["sealdrop_bytes_received_total"] == size)
        #expect(uploaded["sealdrop_transfers_pending"] == 1)
        #expect(uploaded["sealdrop_logins_accepted_total"] == 1)
        #expect((uploaded["sealdrop_reaper_runs_total"] ?? 0) >= 1, "the start-up sweep")
        #expect((uploaded["sealdrop_trust_reloads_total"] ?? 0) >= 1, "the trust store was read for the login")

        let listing = try server.sftp("newvendor", ["ls -l /inbox"])
        let id = try #require(
            listing.output.split(separator: "\n").compactMap { line in
                line.split(separator: " ").last.flatMap { $0.hasSuffix(".sealdrop") ? String($0.dropLast(9)) : nil }
            }.first)
        let download = try Self.startSFTP(server, "newvendor", ["get /inbox/\(id).sealdrop received.sealdrop"])
        var sending = false
        while download.isRunning {
            let live = try Exposition(text: try Self.scrape(url))
            let sent = live["sealdrop_bytes_sent_total"] ?? 0
            if live["sealdrop_sessions_open"] == 1, sent > 0, sent < size, live[#"sealdrop_transfers_total{state="claimed"}"#] == 1 { sending = true }
            _ = try Exposition(path: file)
            usleep(100_000)
        }
        #expect(download.terminationStatus == 0)
        #expect(sending, "the listener showed the download's claim and part of its bytes")

        let delivered = try Exposition(text: try Self.scrape(url))
        #expect(delivered["sealdrop_bytes_sent_total"] == size)
        #expect(delivered[#"sealdrop_transfers_total{state="delivered"}"#] == 1)
        #expect(delivered["sealdrop_claim_latency_seconds_count"] == 1)
        #expect(delivered["sealdrop_delivery_latency_seconds_count"] == 1)
        #expect(delivered["sealdrop_transfers_pending"] == 0)
        // The client may exit a moment before the server has closed its end.
        var open = delivered["sealdrop_sessions_open"]
        let closing = Date().addingTimeInterval(10)
        while open != 0, Date() < closing {
            usleep(100_000)
            open = try Exposition(text: try Self.scrape(url))["sealdrop_sessions_open"]
        }
        #expect(open == 0)
        #expect(delivered["sealdrop_sessions_total"] == 3)

        // Refusals are counted by reason, never by name or address.
        _ = try server.directory.write(Fixtures.bytes(5000), to: "plain.sql")
        #expect(try server.sftp("oldvendor", ["put plain.sql /outbox/newvendor/"]).status != 0)
        #expect(try server.sftp("oldvendor", identity: "newvendor", ["ls /inbox"]).status != 0)
        let refused = try Exposition(text: try Self.scrape(url))
        #expect(refused[#"sealdrop_uploads_rejected_total{reason="envelope"}"#] == 1)
        #expect((refused[#"sealdrop_logins_refused_total{reason="key_mismatch"}"#] ?? 0) >= 1)
        #expect(!refused.text.contains("oldvendor") && !refused.text.contains("127.0.0.1"))

        // The file catches up within its interval.
        let deadline = Date().addingTimeInterval(10)
        var latest = try Exposition(path: file)
        while Date() < deadline, latest[#"sealdrop_uploads_rejected_total{reason="envelope"}"#] != 1 {
            usleep(200_000)
            latest = try Exposition(path: file)
        }
        #expect(latest[#"sealdrop_transfers_total{state="delivered"}"#] == 1)
        #expect(latest[#"sealdrop_uploads_rejected_total{reason="envelope"}"#] == 1)
        server.stop()
        #expect(try out.entries() == ["sealdrop.prom"], "no temporary file is left beside it")
    }

    @Test func aGracefulStopWritesTheLastFigures() throws {
        let out = try TemporaryDirectory()
        let file = out.file("sealdrop.prom")
        // An hour: the only writes are at start and at stop.
        let server = try ServerFixture(settings: ["metrics-file = \(file)", "metrics-interval = 1h"])
        #expect(!server.startupOutput.contains("metrics on"), "no listener unless one is configured")
        let envelope = try server.seal(Fixtures.bytes(10_000, seed: 3))
        #expect(try server.sftp("oldvendor", ["put \(envelope) /outbox/newvendor/"]).status == 0)
        #expect(try Exposition(path: file)["sealdrop_uploads_published_total"] == 0)
        server.stop()
        let last = try Exposition(path: file)
        #expect(last["sealdrop_uploads_published_total"] == 1)
        #expect(last["sealdrop_sessions_total"] == 1)
        #expect(last["sealdrop_transfers_pending"] == 1)
    }

    @Test func aFileThatCannotBeWrittenStopsTheStart() throws {
        let out = try TemporaryDirectory()
        do {
            _ = try ServerFixture(settings: ["metrics-file = \(out.file("missing/sealdrop.prom"))"])
            Issue.record("started with a metrics file in a missing folder")
        } catch FixtureError.setup(let output) {
            #expect(output.isEmpty || !output.contains("listening on"))
        }
    }

    @Test func aNonLoopbackListenerIsRefusedAtStart() throws {
        let directory = try TemporaryDirectory()
        let config = try directory.write(Array("metrics-listen = 0.0.0.0:9465\n".utf8), to: "sealdropd.conf")
        let result = try Subprocess.run(
            Fixtures.sealdropd, ["serve", "--config", config, "--data", directory.file("data"), "--trust", directory.file("trust"), "--listen", "127.0.0.1:0"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("loopback"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("data")), "nothing was created")
    }

    @Test(arguments: [
        "metrics-file = /var/lib/node-exporter/sealdrop.txt", "metrics-file = .prom", "metrics-file = /tmp/.prom", "metrics-interval = 0s",
        "metrics-interval = 500", "metrics-interval = 2h", "metrics-listen = 0.0.0.0:9465", "metrics-listen = 192.0.2.1:9465",
        "metrics-listen = [::]:9465", "metrics-listen = localhost:9465", "metrics-listen = 127.0.0.1", "metrics-listen = 127.0.0.1:70000",
        "metrics-listen = ::ffff:127.0.0.1:9465",
    ])
    func badMetricsSettingsAreNamed(_ line: String) throws {
        var settings = ServerSettings()
        do {
            try settings.apply(text: "# ok\n\(line)\n", origin: "m.conf")
            Issue.record("accepted \(line)")
        } catch let error as SettingsError {
            #expect(error.message.hasPrefix("m.conf:2: \(line.split(separator: " ")[0]) must"), "\(error.message)")
        }
    }

    @Test func metricsSettingsAreRead() throws {
        var settings = ServerSettings()
        #expect(settings.metricsFile == nil && settings.metricsListen == nil, "nothing is exposed by default")
        try settings.apply(
            text: "metrics-file = /var/lib/prometheus/node-exporter/sealdrop.prom\nmetrics-interval = 15s\nmetrics-listen = [::1]:9465\n", origin: "m.conf")
        #expect(settings.metricsFile == "/var/lib/prometheus/node-exporter/sealdrop.prom")
        #expect(settings.metricsInterval == 15)
        #expect(settings.metricsListen?.host == "::1" && settings.metricsListen?.port == 9465)
        try settings.set("metrics-listen", "127.0.0.53:9100")
        #expect(settings.metricsListen?.host == "127.0.0.53")
    }

    /// A reader racing the writer sees one whole version or the other, never a mix or a part.
    @Test func theFileIsNeverSeenHalfWritten() throws {
        let out = try TemporaryDirectory()
        let file = MetricsTextfile(path: out.file("race.prom"))
        let versions = [[UInt8](repeating: UInt8(ascii: "a"), count: 300_000), [UInt8](repeating: UInt8(ascii: "b"), count: 200_000)]
        try file.write(versions[0])
        let done = Atomic<Bool>(false)
        let writer = Thread {
            for round in 0..<200 { try? file.write(versions[round % 2]) }
            done.store(true, ordering: .sequentiallyConsistent)
        }
        writer.start()
        var reads = 0
        while !done.load(ordering: .sequentiallyConsistent) {
            let seen = try out.read("race.prom")
            #expect(seen == versions[0] || seen == versions[1], "a read of \(seen.count) bytes")
            reads += 1
        }
        #expect(reads > 0)
        #expect(try out.entries() == ["race.prom"])
    }

    @Test func theListenerAnswersOnlyGetMetrics() throws {
        let metrics = DropBoxMetrics()
        metrics.uploadPublished()
        let listener = try MetricsListener(host: "::1", port: 0, metrics: metrics)
        listener.start()
        defer { listener.stop() }
        let base = "http://[::1]:\(listener.port)"
        let body = try Self.scrape(base + "/metrics")
        #expect(try Exposition(text: body)["sealdrop_uploads_published_total"] == 1)
        let curl = try #require(Subprocess.which("curl"))
        let missing = try Subprocess.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/"])
        #expect(missing.output == "404")
        let posted = try Subprocess.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", base + "/metrics"])
        #expect(posted.output == "405")
    }

    @Test(arguments: ["0.0.0.0", "192.0.2.1", "::", "::ffff:127.0.0.1", "localhost", ""])
    func theListenerRefusesAnythingButLoopback(_ host: String) {
        #expect(throws: MetricsListenError.self) { try MetricsListener(host: host, port: 0, metrics: DropBoxMetrics()) }
    }

    // MARK: - Helpers

    static func metricsURL(_ output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix("metrics on ") }.map { String($0.dropFirst("metrics on ".count)) }
    }

    static func scrape(_ url: String) throws -> String {
        let curl = try #require(Subprocess.which("curl"))
        let result = try Subprocess.run(curl, ["-sf", "--max-time", "5", url])
        guard result.status == 0 else { throw FixtureError.setup("curl \(url): \(result.status) \(result.standardError)") }
        return result.output
    }

    /// OpenSSH `sftp`, throttled, started and not waited for.
    static func startSFTP(_ server: ServerFixture, _ user: String, _ commands: [String]) throws -> Process {
        let batch = try server.directory.write(Array((commands.joined(separator: "\n") + "\n").utf8), to: "batch-\(UUID().uuidString)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Subprocess.which("sftp") ?? "/usr/bin/sftp")
        process.arguments = server.sshOptions(user) + ["-l", throttle, "-b", batch, "\(user)@127.0.0.1"]
        process.currentDirectoryURL = URL(fileURLWithPath: server.directory.path)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// The Prometheus text format, as far as the tests read it: `# ` comments
/// and `series value` lines. A line that is neither fails the read.
struct Exposition {
    let text: String
    let values: [String: Double]

    init(path: String) throws {
        try self.init(text: String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self))
    }

    init(text: String) throws {
        self.text = text
        var values: [String: Double] = [:]
        guard text.hasSuffix("\n") else { throw FixtureError.setup("the exposition does not end with a newline: \(text.suffix(80))") }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]), line.hasPrefix("sealdrop_") else {
                throw FixtureError.setup("not an exposition line: \(line)")
            }
            values[String(line[..<space])] = value
        }
        for name in [
            DropBoxMetrics.Name.sessionsOpen, DropBoxMetrics.Name.loginsAccepted, DropBoxMetrics.Name.bytesReceived, DropBoxMetrics.Name.reaperRuns,
            DropBoxMetrics.Name.trustReloads, DropBoxMetrics.Name.transfersPending,
        ] where values[name] == nil {
            throw FixtureError.setup("\(name) is missing from the exposition")
        }
        self.values = values
    }

    subscript(_ series: String) -> Double? { values[series] }
}
