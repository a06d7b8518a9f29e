import Foundation
import SealdropFormat
import SealdropKeys
import SealdropProxy
import SealdropServer
import SealdropSSH
import SealdropStore
import SealdropTrust
import Synchronization

/// Accepts connections and serves each on its own thread, within the
/// session limits; watches open sessions (revoked certificates, maximum
/// lifetime); stops on SIGTERM or SIGINT, giving sessions a bounded time to
/// finish.
final class SessionAcceptor: @unchecked Sendable {
    let server: SSHServer
    let dropBox: DropBox
    let settings: ServerSettings
    /// Failed logins per source: this node's, and every node's when they share a database.
    let failedLogins: FailedLoginLimiter
    private let state: Mutex<State>

    /// A connection being served: while logging in (`vendor` nil), then in session.
    struct Live {
        let connection: SSHServerConnection
        let started: Date
        var vendor: VerifiedParty?
        var ending = false
    }

    struct State {
        var sessions = 0
        var perVendor: [String: Int] = [:]
        /// Connections not yet logged in: random early drop and per-range limits.
        var logins: LoginAdmission
        var live: [Int: Live] = [:]
        var nextID = 0
        var stopping = false
    }

    /// - Parameter shared: the shared database's counters when nodes share one.
    init(server: SSHServer, dropBox: DropBox, settings: ServerSettings, shared: (any SharedNodeState)? = nil) {
        self.server = server
        self.dropBox = dropBox
        self.settings = settings
        failedLogins = FailedLoginLimiter(limit: settings.failedLoginsPerMinute, shared: shared)
        state = Mutex(State(logins: LoginAdmission(limits: settings.loginLimits)))
    }

    /// Serves until SIGTERM or SIGINT, then stops gracefully: no new
    /// sessions, those in flight get `shutdownGrace`, then are cut (their
    /// claims kept for a resume), refusals still counted are written.
    func runUntilSignalled() {
        Thread.detachNewThread { [self] in acceptLoop() }
        Thread.detachNewThread { [self] in watchSessions() }
        let number = StopSignals.wait()
        let open = state.withLock { state -> Int in
            state.stopping = true
            return state.sessions
        }
        server.stop()
        DaemonLog.line("\(StopSignals.name(number)): no new sessions; waiting up to \(Int(settings.shutdownGrace)) s for \(open) sessions")
        waitForSessions(until: Date().addingTimeInterval(settings.shutdownGrace))
        let cut = state.withLock { state -> [SSHServerConnection] in state.live.values.map(\.connection) }
        if !cut.isEmpty {
            DaemonLog.line("ending \(cut.count) sessions still open after the grace period")
            for connection in cut { connection.interrupt() }
            waitForSessions(until: Date().addingTimeInterval(2))
        }
        dropBox.flushRefusals(all: true)
        DaemonLog.line("stopped")
    }

    private func waitForSessions(until deadline: Date) {
        while state.withLock({ $0.sessions }) > 0, Date() < deadline { usleep(20_000) }
    }

    /// Takes connections off the listener: only the node-wide checks
    /// (stopping, full) happen here, so a slow peer never holds the loop;
    /// the rest (a balancer's PROXY header, the per-source limits) runs on
    /// the connection's own thread, in `admit`.
    private func acceptLoop() {
        while !server.isStopped {
            let socket: AcceptedSocket
            do {
                socket = try server.acceptSocket()
            } catch {
                if server.isStopped { return }
                DaemonLog.line("accept failed: \(error)")
                usleep(100_000)
                continue
            }
            let admitted = state.withLock { state -> Result<Int, Refusal> in
                if state.stopping { return .failure(Refusal("the server is stopping")) }
                if state.sessions >= settings.maximumSessions { return .failure(Refusal("the server is full (\(settings.maximumSessions) sessions)")) }
                state.sessions += 1
                let id = state.nextID
                state.nextID += 1
                return .success(id)
            }
            switch admitted {
            case .failure(let refusal):
                // Behind a balancer the peer is the balancer: the client is
                // not known yet, and the refusal is counted for the balancer.
                refuse(socket, source: socket.peerAddress, refusal.reason)
            case .success(let id):
                Thread.detachNewThread { [self] in
                    admit(socket, id: id)
                    state.withLock { state in
                        state.sessions -= 1
                        state.live[id] = nil
                    }
                }
            }
        }
    }

    /// The banner a balancer's health check gets (ops/haproxy.cfg expects
    /// `SSH-2.0-`); nothing else is said to a check.
    static let healthCheckBanner = "SSH-2.0-sealdropd"

    /// One accepted connection, on its own thread: learns the client's
    /// address (from a configured balancer's PROXY header, or the TCP
    /// peer), applies the per-source limits, hands the socket to libssh and
    /// serves the session.
    private func admit(_ socket: AcceptedSocket, id: Int) {
        var source = socket.peerAddress
        if let balancers = settings.proxyProtocolFrom {
            // A node behind a balancer is reached only through it: a direct
            // connection would skip whatever the balancer enforces, and a
            // PROXY header from anyone else would let them pick the address
            // our limits and the log see.
            guard balancers.contains(source) else {
                refuse(socket, source: source, "this node accepts connections only through its balancer")
                return
            }
            let header: ProxyHeader
            do {
                header = try socket.readProxyHeader(timeout: min(settings.proxyHeaderTimeout, settings.loginTimeout))
            } catch {
                // Dropped without a word: whatever it is, it is not a
                // balanced connection, and SSH is not spoken on it.
                dropBox.recordRefusal(kind: .refusedSession, actor: "", source: source, detail: "no valid PROXY header from the balancer: \(error)")
                DaemonLog.line("dropped a connection from balancer \(source): \(error)")
                return
            }
            guard header.command == .proxy else {
                // The balancer's health check: answered, never logged (one per node every few seconds).
                socket.sendLine(Self.healthCheckBanner)
                return
            }
            source = header.clientAddress ?? source
        }
        let draw = Double.random(in: 0..<1)
        // Read outside the lock: with a shared database it may be a round trip.
        let limited = failedLogins.isLimited(source)
        // Counted too (on this node): a source that keeps knocking stays refused.
        if limited { failedLogins.noteFailure(source, shared: false) }
        let allowed = state.withLock { state -> Result<LoginAdmission.Admission, Refusal> in
            if limited { return .failure(Refusal("too many failed logins from \(source); wait a minute")) }
            switch state.logins.admit(source: source, ticket: id, draw: draw) {
            case .success(let admission):
                // Cut under the lock: a connection not yet handed over is cut when it is (below).
                if let preempted = admission.preempted { state.live[preempted.ticket]?.connection.interrupt() }
                return .success(admission)
            case .failure(let refusal): return .failure(Refusal(refusal.reason))
            }
        }
        switch allowed {
        case .failure(let refusal):
            refuse(socket, source: source, refusal.reason)
            return
        case .success(let admission):
            if let preempted = admission.preempted { recordPreemption(preempted, by: admission.range) }
        }
        let connection: SSHServerConnection
        do {
            connection = try server.handOver(socket, sourceAddress: source)
        } catch {
            state.withLock { _ = $0.logins.finished(id) }
            DaemonLog.line("cannot serve a connection from \(source): \(error)")
            return
        }
        let cut = state.withLock { state -> Bool in
            state.live[id] = Live(connection: connection, started: Date())
            return state.stopping || !state.logins.holds(id)
        }
        // Stopped while the header was read (the shutdown pass may have
        // missed it), or preempted while being handed over.
        if cut { connection.interrupt() }
        serve(connection, id: id)
    }

    /// A connection still logging in was dropped for a newcomer from a
    /// range holding fewer slots: recorded as a refusal of its source
    /// (aggregated per range like the others).
    private func recordPreemption(_ preempted: LoginAdmission.Preempted, by range: String) {
        let reason =
            "dropped while logging in: the login slots are full and \(preempted.slot.range) held the most; "
            + "its oldest connection gave its slot to \(range)"
        dropBox.recordRefusal(kind: .refusedSession, actor: "", source: preempted.slot.source, detail: reason)
        DaemonLog.line("dropped a connection from \(preempted.slot.source): \(reason)")
    }

    /// Refuses before SSH starts, with one line the client can show; recorded (aggregated per source).
    private func refuse(_ socket: AcceptedSocket, source: String, _ reason: String) {
        socket.sendLine("sealdropd: " + reason)
        dropBox.recordRefusal(kind: .refusedSession, actor: "", source: source, detail: reason)
        DaemonLog.line("refused a connection from \(source): \(reason)")
    }

    /// `id`: the ticket the connection holds its login slot under until it has logged in.
    private func serve(_ connection: SSHServerConnection, id: Int) {
        let source = connection.sourceAddress
        var vendor: VerifiedParty?
        let established: (user: String, keyBlob: [UInt8])
        do {
            established = try connection.establish(timeout: settings.loginTimeout) { [self] user, blob, signed in
                // Every attempt counts against the source's failed-login
                // limit, and once over it, attempts in connections already
                // open are refused without being looked at.
                if failedLogins.isLimited(source) {
                    failedLogins.noteFailure(source, shared: false)
                    dropBox.metrics.loginRefused(.tooManyFailures)
                    dropBox.recordRefusal(
                        kind: .refusedSession, actor: VendorName.printableName(user), source: source, detail: "too many failed logins from \(source)")
                    return false
                }
                guard let ssh = try? SSHEd25519PublicKey(blob: blob), let key = try? VendorPublicKey(ssh) else {
                    failedLogins.noteFailure(source)
                    dropBox.metrics.loginRefused(.keyType)
                    return false
                }
                // Verified afresh for the signed request, so it is recorded once, as a login.
                vendor = dropBox.authenticate(user: user, key: key, sourceAddress: source, signed: signed)
                if vendor == nil { failedLogins.noteFailure(source) }
                return vendor != nil
            }
        } catch {
            state.withLock { _ = $0.logins.finished(id) }
            DaemonLog.line("session from \(source) ended before sftp: \(error)")
            return
        }
        // Preempted as it logged in: it was cut, and stays so.
        guard state.withLock({ $0.logins.finished(id) }) else { return }
        guard let party = vendor, party.name.value == established.user else { return }
        let name = party.name.value
        let allowed = state.withLock { state -> Bool in
            guard state.perVendor[name, default: 0] < settings.maximumSessionsPerVendor else { return false }
            state.perVendor[name, default: 0] += 1
            state.live[id]?.vendor = party
            return true
        }
        guard allowed else {
            let reason = "\(settings.maximumSessionsPerVendor) sessions of \(name) are already open"
            dropBox.recordRefusal(kind: .refusedSession, actor: name, source: source, detail: reason)
            DaemonLog.line("refused another session for \(name): \(reason)")
            connection.close()
            return
        }
        defer { state.withLock { $0.perVendor[name, default: 1] -= 1 } }
        // From here, every blocking read or write (a client that stops
        // reading replies included) gives up after the idle timeout.
        connection.setTimeout(seconds: settings.idleTimeout)
        DaemonLog.line("session start: \(name) from \(source)")
        dropBox.metrics.sessionOpened()
        defer { dropBox.metrics.sessionClosed() }
        let session = SFTPSession(dropBox: dropBox, vendor: party, sourceAddress: source)
        // libssh takes milliseconds as an Int32 (24.8 days at most).
        let idle = Int32(min(settings.idleTimeout * 1000, Double(Int32.max)))
        SFTPConnection(session: session).run(
            receive: { buffer in try connection.read(into: buffer, timeout: idle) },
            send: { bytes in try connection.write(bytes) }, clientLeft: { connection.clientLeft })
        connection.close()
        DaemonLog.line("session end: \(name) from \(source)")
    }

    /// Every `revocationCheckInterval`: sessions of vendors whose
    /// certificate no longer verifies, and sessions past their maximum
    /// lifetime, are ended (and the ending recorded); old failure counts go.
    private func watchSessions() {
        while true {
            Thread.sleep(forTimeInterval: settings.revocationCheckInterval)
            let now = Date()
            failedLogins.prune(now: now)
            let open = state.withLock { state -> [(Int, Live)] in
                return state.live.filter { $0.value.vendor != nil && !$0.value.ending }.map { ($0.key, $0.value) }
            }
            for (id, live) in open {
                guard let vendor = live.vendor else { continue }
                let reason: String
                if now.timeIntervalSince(live.started) > settings.maximumSessionLifetime {
                    reason = "the session reached its maximum lifetime of \(Int(settings.maximumSessionLifetime)) s"
                } else if !dropBox.isStillValid(vendor: vendor, now: now) {
                    reason = "the certificate of \(vendor.name) no longer verifies (revoked, expired or replaced)"
                } else {
                    continue
                }
                state.withLock { $0.live[id]?.ending = true }
                live.connection.interrupt()
                dropBox.record(
                    TransferEvent(time: now, kind: .sessionClosed, actor: vendor.name.value, sourceAddress: live.connection.sourceAddress, detail: reason))
                DaemonLog.line("ended the session of \(vendor.name) from \(live.connection.sourceAddress): \(reason)")
            }
        }
    }

    struct Refusal: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
