import Foundation
import SealdropStore

/// Where the shared metadata database is and how long anything may wait
/// for it, from a `postgres://` URL (`database = ...` in sealdropd.conf):
///
///     postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME&host=/socket/dir&sslmode=disable|require]
///
/// `host=` in the query names a unix-socket directory (as libpq's does);
/// `schema=` keeps sealdrop's tables in their own schema (created if missing).
public struct PostgresSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// A unix-socket directory; when set, `host` and `port` only name the socket file.
    public var socketDirectory: String?
    public var username: String
    public var password: String?
    public var database: String
    public var schema: String?
    /// TLS to the server: off by default (loopback, a private network or a
    /// unix socket); `sslmode=require` encrypts and verifies the server's certificate.
    public var requireTLS: Bool

    /// The whole of one store call, from waiting for a connection to the
    /// commit: the pool would otherwise wait about a minute while the server
    /// is down. Longer than `statementTimeout` so that the server's own
    /// cancellation, with its SQL state, usually arrives first.
    public var callTimeout: TimeInterval = 15
    /// Server side: no statement runs longer (a stuck scan cannot hold locks).
    public var statementTimeout: TimeInterval = 10
    /// Server side: no statement waits longer for a row lock (the log head
    /// is one row every writer takes last; a stuck holder costs others this much).
    public var lockTimeout: TimeInterval = 5
    /// Server side: a node that stops mid-transaction (paused, partitioned)
    /// loses its transaction, and the log head's lock, after this.
    public var idleInTransactionTimeout: TimeInterval = 10
    /// Connections a store keeps at most (each node's sessions share them).
    public var maximumConnections = 8

    public init(
        host: String = "127.0.0.1", port: Int = 5432, socketDirectory: String? = nil, username: String, password: String? = nil,
        database: String, schema: String? = nil, requireTLS: Bool = false
    ) {
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.username = username
        self.password = password
        self.database = database
        self.schema = schema
        self.requireTLS = requireTLS
    }

    /// Parses a `postgres://` or `postgresql://` URL; refuses anything else
    /// with a message that says what was expected.
    public init(url text: String) throws(StoreError) {
        func refuse(_ why: String) -> StoreError {
            StoreError(.database, "the database URL \(Self.redacted(text)) \(why); expected postgres://user@host:port/database")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else { throw refuse("is not a postgres:// URL") }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let socket = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? query["host"].flatMap { $0.hasPrefix("/") ? nil : $0 }
        guard host != nil || socket != nil else { throw refuse("names no host (nor host=/socket/dir)") }
        guard let username = components.user, !username.isEmpty else { throw refuse("names no user") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw refuse("names no database") }
        self.init(
            host: host ?? "localhost", port: components.port ?? 5432, socketDirectory: socket, username: username, password: components.password,
            database: database, schema: query["schema"], requireTLS: false)
        if let schema, !Self.isPlainName(schema) { throw refuse("has a schema name other than letters, digits and _") }
        switch query["sslmode"] ?? "disable" {
        case "disable": requireTLS = false
        case "require", "verify-full": requireTLS = true
        case let other: throw refuse("has sslmode=\(other) (disable or require)")
        }
        if let seconds = query["statement_timeout"].flatMap(TimeInterval.init), seconds > 0 { statementTimeout = seconds }
        if let seconds = query["lock_timeout"].flatMap(TimeInterval.init), seconds > 0 { lockTimeout = seconds }
        if let seconds = query["call_timeout"].flatMap(TimeInterval.init), seconds > 0 { callTimeout = seconds }
        if let count = query["max_connections"].flatMap(Int.init), count > 0 { maximumConnections = count }
    }

    /// True for `postgres://` and `postgresql://` URLs (the daemon's switch between engines).
    public static func isURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// The URL with any password replaced, for messages and logs.
    public static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? "(a postgres URL)"
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 63
            && name.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "_" }
            && !(name.first!.isNumber)
    }
}
