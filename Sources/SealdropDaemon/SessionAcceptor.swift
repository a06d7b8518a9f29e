import Foundation
import SealdropFormat
import SealdropKeys
import SealdropServer
import SealdropSSH
import SealdropTrust
import Synchronization

/// Accepts connections and serves each on its own thread, within the
/// session limits; stops on SIGTERM or SIGINT, giving sessions a bounded
/// time to finish.
final class SessionAcceptor: @unchecked Sendable {
    /// How long in-flight sessions get after SIGTERM before the process exits.
    static let shutdownGrace: TimeInterval = 10

    let server: SSHServer
    let dropBox: DropBox
    let settings: ServerSettings
    private let state = Mutex(State())

    struct State {
        var sessions = 0
        var perVendor: [String: Int] = [:]
        var failures: [String: [Date]] = [:]
        /// Connections not yet logged in, per source address.
        var handshaking: [String: Int] = [:]
        var stopping = false
    }

    init(server: SSHServer, dropBox: DropBox, settings: ServerSettings) {
        self.server = server
        self.dropBox = dropBox
        self.settings = settings
    }

    func runUntilSignalled() {
        let stop = DispatchSemaphore(value: 0)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        Thread.detachNewThread { [self] in acceptLoop() }
        stop.wait()
        _ = sources
        DaemonLog.line("stopping: no new sessions; waiting up to \(Int(Self.shutdownGrace)) s for \(state.withLock { $0.sessions }) sessions")
        state.withLock { $0.stopping = true }
        let deadline = Date().addingTimeInterval(Self.shutdownGrace)
        while state.withLock({ $0.sessions }) > 0, Date() < deadline { usleep(50_000) }
        DaemonLog.line("stopped")
    }

    private func acceptLoop() {
        while true {
            let connection: SSHServerConnection
            do {
                connection = try server.accept()
            } catch {
                DaemonLog.line("accept failed: \(error)")
                usleep(100_000)
                continue
            }
            let source = connection.sourceAddress
            let admitted = state.withLock { state -> String? in
                if state.stopping { return "the server is stopping" }
                if state.sessions >= settings.maximumSessions { return "the server is full (\(settings.maximumSessions) sessions)" }
                let recent = (state.failures[source] ?? []).filter { $0 > Date().addingTimeInterval(-60) }
                state.failures[source] = recent
                if recent.count >= settings.failedLoginsPerMinute { return "too many failed logins from \(source); wait a minute" }
                if state.handshaking[source, default: 0] >= settings.maximumLoginsInProgressPerSource {
                    return "\(settings.maximumLoginsInProgressPerSource) logins from \(source) are already in progress"
                }
                state.handshaking[source, default: 0] += 1
                state.sessions += 1
                return nil
            }
            if let refusal = admitted {
                DaemonLog.line("refused a connection from \(source): \(refusal)")
                continue
            }
            Thread.detachNewThread { [self] in
                serve(connection)
                state.withLock { $0.sessions -= 1 }
            }
        }
    }

    private func serve(_ connection: SSHServerConnection) {
        let source = connection.sourceAddress
        var vendor: VerifiedParty?
        let established: (user: String, keyBlob: [UInt8])
        do {
            established = try connection.establish(timeout: settings.loginTimeout) { [self] user, blob, signed in
                guard let ssh = try? SSHEd25519PublicKey(blob: blob), let key = try? VendorPublicKey(ssh) else { return false }
                // Verified afresh for the signed request, so it is recorded once, as a login.
                vendor = dropBox.authenticate(user: user, key: key, sourceAddress: source, signed: signed)
                if vendor == nil { noteFailure(source) }
                return vendor != nil
            }
        } catch {
            state.withLock { $0.handshaking[source, default: 1] -= 1 }
            DaemonLog.line("session from \(source) ended before sftp: \(error)")
            return
        }
        state.withLock { $0.handshaking[source, default: 1] -= 1 }
        guard let party = vendor, party.name.value == established.user else { return }
        let name = party.name.value
        let allowed = state.withLock { state -> Bool in
            guard state.perVendor[name, default: 0] < settings.maximumSessionsPerVendor else { return false }
            state.perVendor[name, default: 0] += 1
            return true
        }
        guard allowed else {
            DaemonLog.line("refused another session for \(name): \(settings.maximumSessionsPerVendor) already open")
            connection.close()
            return
        }
        defer { state.withLock { $0.perVendor[name, default: 1] -= 1 } }
        // From here, every blocking read or write (a client that stops
        // reading replies included) gives up after the idle timeout.
        connection.setTimeout(seconds: settings.idleTimeout)
        DaemonLog.line("session start: \(name) from \(source)")
        let session = SFTPSession(dropBox: dropBox, vendor: party, sourceAddress: source)
        let idle = Int32(settings.idleTimeout * 1000)
        SFTPConnection(session: session).run(
            receive: { buffer in try connection.read(into: buffer, timeout: idle) },
            send: { bytes in try connection.write(bytes) })
        connection.close()
        DaemonLog.line("session end: \(name) from \(source)")
    }

    private func noteFailure(_ source: String) {
        state.withLock { $0.failures[source, default: []].append(Date()) }
    }
}
