import Foundation
import SealdropMetrics
import SealdropProxy
import SealdropServer
import SealdropStore
import SealdropStorePostgres

/// Everything `sealdropd serve` can be told, from the config file and
/// flags. `ops/sealdropd.conf` documents each setting.
struct ServerSettings {
    var listenHost = "127.0.0.1"
    var listenPort = 2222
    var dropBox = DropBoxConfiguration(dataDirectory: "sealdrop-data", trustDirectory: "Certificates")
    /// Sessions served at once; each is a thread, so this bounds threads and memory.
    var maximumSessions = 64
    /// One vendor cannot take every slot.
    var maximumSessionsPerVendor = 8
    /// Seconds from TCP accept to an authenticated sftp channel.
    var loginTimeout: Double = 30
    /// Seconds without a request before a session is closed.
    var idleTimeout: Double = 600
    /// Failed logins allowed per source address per minute before it is refused outright.
    var failedLoginsPerMinute = 10
    /// Connections still logging in: OpenSSH's MaxStartups (random early
    /// drop from `start`, all refused at `full`, below `maximum-sessions` so
    /// logged-in sessions keep slots), and a limit per source range (IPv4
    /// /24, IPv6 /64), so a flood from one place does not touch others.
    var loginLimits = LoginAdmission.Limits()
    /// Connections the kernel queues before they are accepted (libssh's own
    /// listener used 10, which made bursts of logins wait seconds).
    var listenBacklog: Int32 = 1024
    /// How often open sessions are checked against the trust store: a
    /// vendor whose certificate is revoked or expired is disconnected within this.
    var revocationCheckInterval: Double = 10
    /// The longest a session may last, however active: a working day and
    /// more, so a transfer finishes, but no session lives on for days.
    var maximumSessionLifetime: Double = 12 * 3600
    /// After SIGTERM or SIGINT: how long sessions in flight may finish
    /// before they are cut (their claims are kept for a resume).
    var shutdownGrace: Double = 10
    /// Balancer addresses whose connections start with a PROXY protocol v2
    /// header (`proxy-protocol-from`). When set, only these may connect;
    /// nil (the default): no header is read, the TCP peer is the client.
    var proxyProtocolFrom: Set<String>?
    /// Seconds a balancer has to send its whole PROXY header after the
    /// connection opens: it writes the header at once, so 5 s is generous,
    /// and a connection that sends nothing holds a thread no longer.
    var proxyHeaderTimeout: Double = 5
    /// The SSH host key file (`host-key`), the same on every node of a
    /// cluster; nil: `ssh_host_ed25519_key` in the data directory, made on first start.
    var hostKeyPath: String?
    /// The metadata database (`database`): nil for the SQLite file in the
    /// data directory, or a `postgres://` URL shared by several nodes.
    var database: String?
    /// The Prometheus textfile (`metrics-file`, ending in `.prom`), rewritten
    /// atomically every `metricsInterval`; nil (the default): none written.
    var metricsFile: String?
    /// How often the metrics file is rewritten (`metrics-interval`).
    var metricsInterval: Double = 5
    /// A loopback address serving `GET /metrics` (`metrics-listen`); nil: no listener.
    var metricsListen: (host: String, port: Int)?

    /// Applies a `key = value` file; `#` starts a comment. Unknown keys and
    /// bad values are errors naming the line.
    mutating func load(file path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SettingsError("cannot read \(path): \(error.localizedDescription)")
        }
        try apply(text: text, origin: path)
    }

    /// Applies the text of a `key = value` file read from `origin` (named
    /// in errors): no I/O, so the parser is tested and fuzzed from bytes.
    mutating func apply(text: String, origin path: String) throws {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[1].isEmpty else { throw SettingsError("\(path):\(index + 1): expected `key = value`") }
            do {
                try set(parts[0], parts[1])
            } catch let error as SettingsError {
                throw SettingsError("\(path):\(index + 1): \(error.message)")
            }
        }
    }

    mutating func set(_ key: String, _ value: String) throws {
        switch key {
        case "listen": try setListen(value)
        case "data": dropBox.dataDirectory = value
        case "trust": dropBox.trustDirectory = value
        case "default-expiry": dropBox.defaultExpiry = try Self.duration(value, key)
        case "maximum-expiry": dropBox.maximumExpiry = try Self.duration(value, key)
        case "maximum-file-size": dropBox.maximumFileSize = try Self.bytes(value, key)
        case "vendor-quota": dropBox.maximumStoredBytesPerVendor = try Self.bytes(value, key)
        case "vendor-pending-transfers": dropBox.maximumPendingPerVendor = try Self.count(value, key)
        case "reaper-interval": dropBox.reaperInterval = try Self.duration(value, key)
        case "maximum-sessions": maximumSessions = try Self.count(value, key)
        case "maximum-sessions-per-vendor": maximumSessionsPerVendor = try Self.count(value, key)
        case "login-timeout": loginTimeout = try Self.duration(value, key)
        case "idle-timeout": idleTimeout = try Self.duration(value, key)
        case "failed-logins-per-minute": failedLoginsPerMinute = try Self.count(value, key)
        case "logins-in-progress-per-source": loginLimits.perSource = try Self.count(value, key)
        case "max-startups": try setMaxStartups(value)
        case "source-prefix-ipv4": loginLimits.ipv4Prefix = try Self.prefix(value, key, bits: 32)
        case "source-prefix-ipv6": loginLimits.ipv6Prefix = try Self.prefix(value, key, bits: 128)
        case "listen-backlog": listenBacklog = Int32(clamping: try Self.count(value, key))
        case "claim-lease": dropBox.claimLease = try Self.claimLease(value, key)
        case "trust-check-interval": dropBox.trustCheckInterval = try Self.duration(value, key)
        case "refusal-window": dropBox.refusalWindow = try Self.duration(value, key)
        case "revocation-check-interval": revocationCheckInterval = try Self.duration(value, key)
        case "maximum-session-lifetime": maximumSessionLifetime = try Self.duration(value, key)
        case "shutdown-grace": shutdownGrace = try Self.duration(value, key)
        case "proxy-protocol-from": proxyProtocolFrom = try Self.addresses(value, key)
        case "proxy-header-timeout": proxyHeaderTimeout = try Self.duration(value, key)
        case "host-key": hostKeyPath = value
        case "receipt-key": dropBox.receiptKeyPath = value
        case "blob-directory": dropBox.blobRoot = value
        case "node-id": dropBox.nodeID = try Self.nodeID(value, key)
        case "database": try setDatabase(value)
        case "metrics-file": metricsFile = try Self.metricsFile(value, key)
        case "metrics-interval": metricsInterval = try Self.metricsInterval(value, key)
        case "metrics-listen": metricsListen = try Self.loopbackEndpoint(value, key)
        default: throw SettingsError("unknown setting \"\(key)\"")
        }
    }

    /// `sqlite` (the file in the data directory) or a `postgres://` URL, checked now.
    mutating func setDatabase(_ value: String) throws {
        if value == "sqlite" {
            database = nil
            return
        }
        guard PostgresSettings.isURL(value) else {
            throw SettingsError("database must be sqlite or a URL such as postgres://sealdrop@db.example:5432/sealdrop")
        }
        do {
            _ = try PostgresSettings(url: value)
        } catch {
            throw SettingsError(error.message)
        }
        database = value
    }

    /// Opens the configured metadata store: nil means the SQLite file the
    /// drop box opens itself.
    func openStore(nodeID: String? = nil) throws -> (any TransferStore)? {
        guard let database else { return nil }
        return try PostgresTransferStore(
            settings: PostgresSettings(url: database), claimLease: dropBox.claimLease, nodeID: nodeID ?? PostgresTransferStore.defaultNodeID())
    }

    mutating func setListen(_ value: String) throws {
        guard let (host, port) = Self.hostAndPort(value) else {
            throw SettingsError("listen must be HOST:PORT, such as 127.0.0.1:2222")
        }
        listenHost = host
        listenPort = port
    }

    /// `HOST:PORT`, `[V6]:PORT` or `V6:PORT` (the port after the last
    /// colon, 0 to 65535); nil when there is no port.
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }

    /// `start:rate:full`, as OpenSSH's MaxStartups: 1 ≤ start ≤ full, rate a percentage 1...100.
    mutating func setMaxStartups(_ value: String) throws {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 3, let start = parts[0], let rate = parts[1], let full = parts[2], start >= 1, start <= full, (1...100).contains(rate)
        else {
            throw SettingsError("max-startups must be start:rate:full such as 10:30:32 (1 ≤ start ≤ full, rate 1 to 100 percent)")
        }
        loginLimits.start = start
        loginLimits.rate = rate
        loginLimits.full = full
    }

    static func prefix(_ text: String, _ key: String, bits: Int) throws -> Int {
        guard let value = Int(text), (1...bits).contains(value) else { throw SettingsError("\(key) must be a prefix length from 1 to \(bits)") }
        return value
    }

    static func duration(_ text: String, _ key: String) throws -> TimeInterval {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        // `Double` also reads "inf" and "1e300": bounded here, every later
        // conversion (timeouts in whole milliseconds, dates, days in
        // messages) stays in range instead of trapping.
        guard let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()), value > 0, value * factor <= maximumDuration else {
            throw SettingsError("\(key) must be a duration such as 90s, 10m, 72h or 14d, at most \(Int(maximumDuration / 86_400))d")
        }
        return value * factor
    }

    /// A claim's lease: at least `minimumClaimLease`. Sessions renew it a
    /// quarter of the way through (at most every 15 s:
    /// `SessionRules.renewalInterval(forLease:)`), so a shorter lease still
    /// holds while the client moves bytes; under a second, one slow store
    /// write or scheduling pause would lose a live client its handles.
    static func claimLease(_ text: String, _ key: String) throws -> TimeInterval {
        let lease = try duration(text, key)
        guard lease >= minimumClaimLease else {
            throw SettingsError("\(key) must be at least \(Int(minimumClaimLease))s: a live download renews its claim every quarter of it")
        }
        return lease
    }

    static let minimumClaimLease: TimeInterval = 1

    /// The longest duration any setting takes: ten years.
    static let maximumDuration: TimeInterval = 3650 * 86_400

    static func bytes(_ text: String, _ key: String) throws -> UInt64 {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        let message = "\(key) must be a size such as 500M or 64G, below 16 EiB"
        if let unit = text.last, let factor = units[unit], let value = UInt64(text.dropLast()) {
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            guard !overflow else { throw SettingsError(message) }
            return product
        }
        guard let value = UInt64(text) else { throw SettingsError(message) }
        return value
    }

    /// A comma-separated list of IPv4 or IPv6 addresses (no names: a
    /// balancer is trusted by address), each written as the server writes
    /// peer addresses, so `::0001` matches a peer seen as `::1`.
    static func addresses(_ text: String, _ key: String) throws -> Set<String> {
        var found = Set<String>()
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            var v4 = in_addr()
            var v6 = in6_addr()
            if inet_pton(AF_INET, item, &v4) == 1 {
                found.insert(ProxyEndpoint(address: withUnsafeBytes(of: v4) { Array($0) }, port: 0).text)
            } else if inet_pton(AF_INET6, item.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), &v6) == 1 {
                found.insert(ProxyEndpoint(address: withUnsafeBytes(of: v6) { Array($0) }, port: 0).text)
            } else {
                throw SettingsError("\(key) must list IP addresses separated by commas, such as 127.0.0.1, ::1 (\"\(item)\" is not one)")
            }
        }
        guard !found.isEmpty else { throw SettingsError("\(key) must list at least one IP address") }
        return found
    }

    /// A node's name: a folder and a lock file name, so letters, digits,
    /// `.`, `_` and `-` only; not the names the server keeps for itself.
    static func nodeID(_ text: String, _ key: String) throws -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(text.count), text.allSatisfy(allowed.contains), !text.hasPrefix("."),
            text != BlobStore.subsystemNodeID, text != "default"
        else {
            throw SettingsError(
                "\(key) must be 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.'), such as node1; \"default\" and \"subsystem\" are taken")
        }
        return text
    }

    /// Keys of a cluster come from files the operator gives every node;
    /// nothing may make them on its own (each node would make its own and
    /// vendors would see the host key change from one connection to the
    /// next). Throws naming the first missing setting.
    func requireClusterKeys() throws {
        if hostKeyPath == nil {
            throw SettingsError("host-key is not set: every node of a cluster needs the same SSH host key file; none is made automatically")
        }
        if dropBox.receiptKeyPath == nil {
            throw SettingsError("receipt-key is not set: every node of a cluster needs the same receipt key file; none is made automatically")
        }
    }

    /// node_exporter's textfile collector reads `*.prom` files only: any
    /// other name would be written and never collected.
    static func metricsFile(_ text: String, _ key: String) throws -> String {
        guard text.hasSuffix(".prom"), text.count > 5, !text.hasSuffix("/.prom") else {
            throw SettingsError("\(key) must be a file name ending in .prom, such as /var/lib/prometheus/node-exporter/sealdrop.prom")
        }
        return text
    }

    /// At least a second: a scrape every 15 s or more gains nothing from more.
    static func metricsInterval(_ text: String, _ key: String) throws -> TimeInterval {
        let seconds = try duration(text, key)
        guard seconds >= 1, seconds <= 3600 else { throw SettingsError("\(key) must be from 1s to 1h, such as 5s") }
        return seconds
    }

    /// `HOST:PORT` where HOST is 127.0.0.0/8 or `::1` (`[::1]:PORT`): the
    /// figures say who is busy when, and are for this host only.
    static func loopbackEndpoint(_ text: String, _ key: String) throws -> (host: String, port: Int) {
        guard let (host, port) = hostAndPort(text) else {
            throw SettingsError("\(key) must be HOST:PORT on loopback, such as 127.0.0.1:9465 (port 0 picks a free one)")
        }
        guard MetricsListener.loopbackFamily(host) != nil else {
            throw SettingsError("\(key) must be a loopback address (127.0.0.0/8 or [::1]), not \(host): metrics are never served to the network")
        }
        return (host, port)
    }

    static func count(_ text: String, _ key: String) throws -> Int {
        guard let value = Int(text), value > 0 else { throw SettingsError("\(key) must be a positive whole number") }
        return value
    }
}

struct SettingsError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
