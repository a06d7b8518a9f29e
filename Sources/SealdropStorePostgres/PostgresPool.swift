import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import SealdropStore
import Synchronization

/// The store's connections to PostgreSQL, for callers on plain threads.
///
/// Sessions run on plain threads and block; Swift concurrency threads must
/// not. So this pool uses postgres-nio's EventLoopFuture interface: the
/// statements run on NIO's own event-loop threads and the calling thread
/// waits on a semaphore, with a deadline. No cooperative-pool thread ever
/// waits on another, so a burst of blocked callers cannot starve the
/// threads that would complete them. Every call has one deadline
/// (`PostgresSettings.callTimeout`) covering the wait for a connection, the
/// connect and every statement; a connection whose statement missed it is
/// closed, never reused in an unknown state.
final class PostgresPool: Sendable {
    let settings: PostgresSettings
    private let configuration: PostgresConnection.Configuration
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    private let idle = Mutex<[PostgresConnection]>([])
    private let slots: DispatchSemaphore
    private let nextID = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    private let logger = Logger(label: "sealdrop.store.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    /// Statements sent, for counting round trips in benchmarks.
    let statements = Atomic<Int>(0)

    init(_ settings: PostgresSettings) throws(StoreError) {
        self.settings = settings
        var configuration: PostgresConnection.Configuration
        if let directory = settings.socketDirectory {
            configuration = .init(
                unixSocketPath: "\(directory)/.s.PGSQL.\(settings.port)", username: settings.username, password: settings.password,
                database: settings.database)
        } else {
            var tls = PostgresConnection.Configuration.TLS.disable
            if settings.requireTLS {
                do {
                    tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                } catch {
                    throw StoreError(.database, "cannot set up TLS to the database: \(error)")
                }
            }
            configuration = .init(
                host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                database: settings.database, tls: tls)
        }
        configuration.options.connectTimeout = .milliseconds(Int64(settings.callTimeout * 1000))
        // Set at connection start, so no call pays a round trip for them.
        var parameters: [(String, String)] = [
            ("statement_timeout", "\(Int(settings.statementTimeout * 1000))"),
            ("lock_timeout", "\(Int(settings.lockTimeout * 1000))"),
            ("idle_in_transaction_session_timeout", "\(Int(settings.idleInTransactionTimeout * 1000))"),
            ("application_name", "sealdropd"),
        ]
        if let schema = settings.schema { parameters.append(("search_path", schema)) }
        configuration.options.additionalStartupParameters = parameters
        self.configuration = configuration
        slots = DispatchSemaphore(value: settings.maximumConnections)
    }

    deinit { close() }

    func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for connection in idle.withLock({ list in
            defer { list = [] }; return list
        }) { Self.discard(connection) }
    }

    /// Runs `body` on one connection, before `deadline`; the connection goes
    /// back to the pool only if `body` left it usable.
    func withConnection<T>(_ body: (PostgresLink) throws(StoreError) -> T) throws(StoreError) -> T {
        let deadline = DispatchTime.now() + settings.callTimeout
        guard !closed.load(ordering: .acquiring) else { throw StoreError(.database, "the metadata database connection is closed") }
        guard slots.wait(timeout: deadline) == .success else {
            throw StoreError(.database, "no connection to the metadata database came free within \(settings.callTimeout) s")
        }
        defer { slots.signal() }
        let connection: PostgresConnection
        // A pooled connection the server closed meanwhile (a restart, an
        // idle-in-transaction timeout) is dropped, not handed out to fail.
        var pooled = idle.withLock { $0.popLast() }
        while let dead = pooled, dead.isClosed {
            Self.discard(dead)
            pooled = idle.withLock { $0.popLast() }
        }
        if let pooled {
            connection = pooled
        } else {
            connection = try connect(before: deadline)
        }
        let link = PostgresLink(connection: connection, deadline: deadline, pool: self)
        do throws(StoreError) {
            let result = try body(link)
            release(link)
            return result
        } catch {
            release(link)
            throw error
        }
    }

    /// Runs `body` in one transaction (READ COMMITTED): committed if it
    /// returns, rolled back if it throws.
    func transaction<T>(_ body: (PostgresLink) throws(StoreError) -> T) throws(StoreError) -> T {
        try withConnection { (link) throws(StoreError) -> T in
            try link.run("BEGIN")
            do throws(StoreError) {
                let result = try body(link)
                try link.run("COMMIT")
                return result
            } catch {
                if link.usable { _ = try? link.run("ROLLBACK") }
                throw error
            }
        }
    }

    private func release(_ link: PostgresLink) {
        if link.usable && !closed.load(ordering: .acquiring) {
            idle.withLock { $0.append(link.connection) }
        } else {
            Self.discard(link.connection)
        }
    }

    private func connect(before deadline: DispatchTime) throws(StoreError) -> PostgresConnection {
        let future = PostgresConnection.connect(
            on: group.next(), configuration: configuration, id: nextID.add(1, ordering: .relaxed).newValue, logger: logger)
        switch Self.wait(for: future, until: deadline) {
        case .success(let connection)?: return connection
        case .failure(let error)?:
            throw StoreError(.database, "cannot connect to the metadata database \(settings.database) as \(settings.username): \(Self.describe(error))")
        case nil:
            future.whenSuccess { Self.discard($0) }
            throw StoreError(.database, "the metadata database did not answer within \(settings.callTimeout) s")
        }
    }

    /// Closes a connection without waiting (its future is not needed).
    static func discard(_ connection: PostgresConnection) {
        // The connection must outlive its closing (postgres-nio asserts it).
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Blocks this (plain) thread until `future` completes or `deadline` passes (nil).
    static func wait<T: Sendable>(for future: EventLoopFuture<T>, until deadline: DispatchTime) -> Result<T, any Error>? {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        guard done.wait(timeout: deadline) == .success else { return nil }
        return outcome.withLock { $0 }
    }

    /// The server's message and SQL state (PSQLError alone prints "Database error").
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                let state = info[.sqlState] ?? "?"
                return "\(info[.message] ?? "error") (SQLSTATE \(state))"
            }
            return "\(error.code)\(error.underlying.map { ": \($0)" } ?? "")"
        }
        return String(reflecting: error)
    }

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}

/// One checked-out connection within one call's deadline.
final class PostgresLink {
    let connection: PostgresConnection
    let deadline: DispatchTime
    private let pool: PostgresPool
    /// False once a statement missed the deadline or the connection broke:
    /// it is then closed rather than pooled.
    private(set) var usable = true

    init(connection: PostgresConnection, deadline: DispatchTime, pool: PostgresPool) {
        self.connection = connection
        self.deadline = deadline
        self.pool = pool
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ query: PostgresQuery) throws(StoreError) -> [PostgresRow] {
        try execute(query).rows
    }

    /// Runs one statement and returns how many rows it changed or returned.
    @discardableResult
    func run(_ query: PostgresQuery) throws(StoreError) -> Int {
        try execute(query).metadata.rows ?? 0
    }

    private func execute(_ query: PostgresQuery) throws(StoreError) -> PostgresQueryResult {
        guard usable else { throw StoreError(.database, "the metadata database connection was lost") }
        pool.statements.add(1, ordering: .relaxed)
        let future = connection.query(query, logger: Logger(label: "sealdrop.store.postgres", factory: { _ in SwiftLogNoOpLogHandler() }))
        switch PostgresPool.wait(for: future, until: deadline) {
        case .success(let result)?:
            return result
        case .failure(let error)?:
            // A server error leaves the connection usable (a transaction is
            // rolled back); anything else (closed, protocol) does not.
            if (error as? PSQLError)?.serverInfo == nil { usable = false }
            throw StoreError(.database, "the metadata database failed: \(PostgresPool.describe(error))")
        case nil:
            usable = false
            PostgresPool.discard(connection)
            throw StoreError(.database, "the metadata database did not answer within \(pool.settings.callTimeout) s")
        }
    }
}
