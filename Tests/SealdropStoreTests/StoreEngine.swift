import Foundation
import SealdropStore
import SealdropStorePostgres
import Testing
import TestSupport

/// The engines the shared store suite runs against. PostgreSQL needs
/// `SEALDROP_TEST_POSTGRES_URL` (ops/test starts a throwaway cluster and
/// sets it, with `SEALDROP_REQUIRE_POSTGRES=1`). Without the URL a plain
/// `swift test` runs SQLite only and says so; with the requirement set, a
/// missing URL fails every PostgreSQL case instead of skipping it.
enum StoreEngine: String, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    static let postgresURL = ProcessInfo.processInfo.environment["SEALDROP_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let postgresRequired = ProcessInfo.processInfo.environment["SEALDROP_REQUIRE_POSTGRES"] == "1"

    /// Engines to run: both, unless PostgreSQL is neither configured nor required.
    static let all: [StoreEngine] = {
        if postgresURL != nil || postgresRequired { return [.sqlite, .postgres] }
        print(
            "note: SEALDROP_TEST_POSTGRES_URL is not set: the store suite runs on SQLite only; "
                + "ops/test runs it on PostgreSQL too (or start one with ops/lib/postgres start DIR)")
        return [.sqlite]
    }()

    /// PostgreSQL only, for tests about several nodes; empty (and said) without a URL.
    static let postgresOnly: [StoreEngine] = all.contains(.postgres) ? [.postgres] : []
}

/// One store for one test: SQLite in a temporary directory, or PostgreSQL
/// in a schema of its own (so tests run in parallel on one cluster).
final class StoreFixture: Sendable {
    let engine: StoreEngine
    let directory: TemporaryDirectory
    let schema: String
    let claimLease: TimeInterval
    let store: any TransferStore

    init(_ engine: StoreEngine, claimLease: TimeInterval = 60) throws {
        self.engine = engine
        self.claimLease = claimLease
        directory = try TemporaryDirectory()
        schema = "t_" + (0..<12).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
        store = try Self.open(engine, directory: directory, schema: schema, claimLease: claimLease, node: "node-a")
    }

    /// The same data opened again: the database file reopened, or (PostgreSQL)
    /// another node with its own connections.
    func reopen(node: String = "node-b") throws -> any TransferStore {
        try Self.open(engine, directory: directory, schema: schema, claimLease: claimLease, node: node)
    }

    /// PostgreSQL settings for this fixture's schema.
    func postgresSettings(maximumConnections: Int = 4) throws -> PostgresSettings {
        try Self.postgresSettings(schema: schema, maximumConnections: maximumConnections)
    }

    static func postgresSettings(schema: String, maximumConnections: Int = 4) throws -> PostgresSettings {
        guard let url = StoreEngine.postgresURL else {
            throw StoreError(.database, "SEALDROP_TEST_POSTGRES_URL is not set but PostgreSQL tests are required (SEALDROP_REQUIRE_POSTGRES=1)")
        }
        var settings = try PostgresSettings(url: url)
        settings.schema = schema
        settings.maximumConnections = maximumConnections
        return settings
    }

    private static func open(
        _ engine: StoreEngine, directory: TemporaryDirectory, schema: String, claimLease: TimeInterval, node: String
    ) throws -> any TransferStore {
        switch engine {
        case .sqlite:
            return try SQLiteTransferStore(path: directory.file("metadata.sqlite"), claimLease: claimLease)
        case .postgres:
            // The shared suite moves time through the `now` arguments.
            return try PostgresTransferStore(
                settings: postgresSettings(schema: schema), claimLease: claimLease, nodeID: node, clock: .caller)
        }
    }
}

/// Fixed values the store tests share.
enum Sample {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func transfer(
        _ id: String, size: UInt64 = 100, from sender: String = "oldvendor", to recipient: String = "newvendor", expires: TimeInterval = 3600
    ) -> Transfer {
        Transfer(
            id: id, sender: sender, recipient: recipient, size: size, ciphertextSHA256: String(repeating: "ab", count: 32),
            uploadedAt: now, expiresAt: now.addingTimeInterval(expires), blob: "blob-" + id)
    }

    static func event(_ kind: TransferEvent.Kind, _ id: String? = nil, at time: Date = now) -> TransferEvent {
        TransferEvent(time: time, kind: kind, actor: "test", sourceAddress: "127.0.0.1", transferID: id)
    }
}
