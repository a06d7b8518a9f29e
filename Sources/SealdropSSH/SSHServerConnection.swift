internal import CLibSSH
import SealdropFormat
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One accepted SSH connection (libssh `ssh_session`), from key exchange to
/// close. It accepts public-key login only, then exactly one session
/// channel with the `sftp` subsystem; everything else (passwords, shell,
/// exec, pty, forwarding, agent, X11) is refused by default, because no
/// callback exists to accept it.
public final class SSHServerConnection: @unchecked Sendable {
    private let session: ssh_session
    // libssh keeps pointers to these structs for the session's life, so they
    // are allocated (not Swift `inout` temporaries) and freed after ssh_free.
    private let serverCallbacks = UnsafeMutablePointer<ssh_server_callbacks_struct>.allocate(capacity: 1)
    private let channelCallbacks = UnsafeMutablePointer<ssh_channel_callbacks_struct>.allocate(capacity: 1)
    private var context: Context!

    /// The peer's address, for logs and the failed-login rate.
    public let sourceAddress: String

    /// Called on the connection's thread for each public key offered;
    /// `signed` is true once the client has proved it holds the private key
    /// (only then is it a login), false for the unsigned probe.
    public typealias Authorizer = (_ user: String, _ keyBlob: [UInt8], _ signed: Bool) -> Bool

    final class Context {
        let authorize: Authorizer
        var user: String?
        var keyBlob: [UInt8]?
        var authenticated = false
        var channel: ssh_channel?
        var sftpRequested = false
        var attempts = 0
        /// A copy of the channel bytes libssh holds (see `ChannelReadMirror`).
        var mirror = ChannelReadMirror()
        weak var owner: SSHServerConnection?

        init(authorize: @escaping Authorizer) {
            self.authorize = authorize
        }
    }

    /// The connection's socket, owned by libssh (closed by `ssh_free`); kept
    /// to shut it down from another thread (`interrupt`).
    private let socket: Int32
    /// Set by `interrupt` (another thread).
    private let interrupted = Atomic<Bool>(false)

    init(session: ssh_session, sourceAddress: String? = nil) {
        self.session = session
        socket = ssh_get_fd(session)
        self.sourceAddress = sourceAddress ?? Self.peerAddress(socket)
        serverCallbacks.initialize(to: ssh_server_callbacks_struct())
        channelCallbacks.initialize(to: ssh_channel_callbacks_struct())
    }

    deinit {
        if let channel = context?.channel {
            ssh_channel_free(channel)
        }
        ssh_disconnect(session)
        ssh_free(session)
        serverCallbacks.deallocate()
        channelCallbacks.deallocate()
    }

    /// Bounds every blocking libssh call on this session (key exchange,
    /// reads, and writes waiting for the client's window) to `seconds`.
    public func setTimeout(seconds: Double) {
        var whole = Int(seconds.rounded(.up))
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &whole)
    }

    /// Ends the connection from another thread (certificate revoked, session
    /// too old, server stopping): shutting the socket down makes the owner's
    /// blocked read or write fail, and the owner then cleans up as for a
    /// client that left. libssh itself is only ever called by the owner.
    public func interrupt() {
        interrupted.store(true, ordering: .sequentiallyConsistent)
        shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Refuses a connection before the SSH exchange starts, with one line
    /// the client can show (RFC 4253 §4.2 lets a server send lines before
    /// its version string); the connection is closed when this object goes.
    public func refuse(_ reason: String) {
        let line = Array("sealdropd: \(reason)\r\n".utf8.prefix(250))
        _ = line.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// Public-key authentication attempts allowed per connection.
    static let maximumAuthenticationAttempts = 6

    /// Runs the key exchange, authentication and channel set-up, within
    /// `timeout` seconds. Returns the authenticated user and key blob.
    public func establish(timeout: Double, authorize: @escaping Authorizer) throws(SSHError) -> (user: String, keyBlob: [UInt8]) {
        let context = Context(authorize: authorize)
        context.owner = self
        self.context = context
        let userdata = Unmanaged.passUnretained(context).toOpaque()

        serverCallbacks.pointee.size = MemoryLayout<ssh_server_callbacks_struct>.size
        serverCallbacks.pointee.userdata = userdata
        serverCallbacks.pointee.auth_pubkey_function = { _, user, key, state, userdata in
            let context = Unmanaged<Context>.fromOpaque(userdata!).takeUnretainedValue()
            context.attempts += 1
            guard context.attempts <= SSHServerConnection.maximumAuthenticationAttempts, let user, let key,
                let blob = SSHServerConnection.blob(of: key)
            else { return SSH_AUTH_DENIED.rawValue }
            let name = String(cString: user)
            // The probe (no signature yet) is answered "this key would do";
            // libssh has verified the signature when the state is VALID.
            let signed = state == CChar(SSH_PUBLICKEY_STATE_VALID.rawValue)
            guard signed || state == CChar(SSH_PUBLICKEY_STATE_NONE.rawValue) else { return SSH_AUTH_DENIED.rawValue }
            guard context.authorize(name, blob, signed) else { return SSH_AUTH_DENIED.rawValue }
            if signed {
                context.user = name
                context.keyBlob = blob
                context.authenticated = true
            }
            return SSH_AUTH_SUCCESS.rawValue
        }
        serverCallbacks.pointee.channel_open_request_session_function = { session, userdata in
            let context = Unmanaged<Context>.fromOpaque(userdata!).takeUnretainedValue()
            guard context.authenticated, context.channel == nil, let channel = ssh_channel_new(session) else { return nil }
            context.channel = channel
            context.owner?.installChannelCallbacks(channel)
            return channel
        }
        ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_PUBLICKEY))
        setTimeout(seconds: timeout)
        guard ssh_set_server_callbacks(session, serverCallbacks) == SSH_OK else {
            throw SSHError(.serverFailed, "libssh refused the server callbacks")
        }
        guard ssh_handle_key_exchange(session) == SSH_OK else {
            throw SSHError(.handshakeFailed, "key exchange with \(sourceAddress) failed: \(lastError)")
        }
        guard let event = ssh_event_new() else { throw SSHError(.serverFailed, "libssh could not create an event loop") }
        defer { ssh_event_free(event) }
        ssh_event_add_session(event, session)
        let deadline = Self.now() + timeout
        while !(context.authenticated && context.sftpRequested) {
            guard Self.now() < deadline else { throw SSHError(.handshakeFailed, "\(sourceAddress) did not log in and open sftp within \(Int(timeout)) s") }
            if ssh_event_dopoll(event, 100) == SSH_ERROR {
                throw SSHError(.handshakeFailed, "connection from \(sourceAddress) failed during login: \(lastError)")
            }
            guard ssh_is_connected(session) != 0 else { throw SSHError(.handshakeFailed, "\(sourceAddress) disconnected during login") }
        }
        ssh_event_remove_session(event, session)
        return (context.user!, context.keyBlob!)
    }

    private func installChannelCallbacks(_ channel: ssh_channel) {
        channelCallbacks.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        channelCallbacks.pointee.userdata = Unmanaged.passUnretained(context).toOpaque()
        channelCallbacks.pointee.channel_subsystem_request_function = { _, _, subsystem, userdata in
            let context = Unmanaged<Context>.fromOpaque(userdata!).takeUnretainedValue()
            guard let subsystem, String(cString: subsystem) == "sftp", !context.sftpRequested else { return 1 }
            context.sftpRequested = true
            return 0
        }
        // Runs inside libssh's packet handling with libssh's whole unread
        // buffer; takes nothing (returns 0), so libssh's buffer, window and
        // reads stay as they were. The extended-data stream is never read.
        channelCallbacks.pointee.channel_data_function = { _, _, data, length, isStandardError, userdata in
            guard isStandardError == 0, let data else { return 0 }
            let context = Unmanaged<Context>.fromOpaque(userdata!).takeUnretainedValue()
            context.mirror.saw(UnsafeRawBufferPointer(start: data, count: Int(length)))
            return 0
        }
        ssh_set_channel_callbacks(channel, channelCallbacks)
    }

    /// Set once libssh has no more to give (the client's EOF or close, its
    /// DISCONNECT, a failed socket); `endError` unless it ended cleanly.
    private var ended = false
    private var endError: SSHError?
    /// Set when the bytes held in the mirror must not be handed over.
    private var dropHeld = false

    /// Reads channel data; 0 at end of stream. `timeout` in milliseconds.
    /// Bytes that arrived before the stream ended are all returned first,
    /// even those libssh refuses to hand over once the client has
    /// disconnected (a client that sends its last requests and its
    /// DISCONNECT back to back, as lftp does).
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Int32) throws(SSHError) -> Int {
        guard let context, let channel = context.channel else { return 0 }
        if !ended {
            let count = ssh_channel_read_timeout(channel, buffer.baseAddress, UInt32(buffer.count), 0, timeout)
            if count > 0 {
                context.mirror.consumed(Int(count))
                return Int(count)
            }
            let open = ssh_channel_is_eof(channel) == 0 && ssh_channel_is_open(channel) != 0
            if count == 0, open { throw SSHError(.timedOut, "\(sourceAddress) was idle too long") }
            ended = true
            if count == SSH_ERROR { endError = SSHError(.channelFailed, "reading from \(sourceAddress) failed: \(lastError)") }
        }
        // A session ended on purpose (`interrupt`) drops what it still holds.
        if interrupted.load(ordering: .sequentiallyConsistent) { dropHeld = true }
        let held = dropHeld ? 0 : context.mirror.take(into: buffer)
        if held > 0 { return held }
        if let endError { throw endError }
        return 0
    }

    public func write(_ bytes: [UInt8]) throws(SSHError) {
        guard let channel = context?.channel else { throw SSHError(.channelFailed, "no channel") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { ssh_channel_write(channel, $0.baseAddress! + offset, UInt32(bytes.count - offset)) }
            guard written > 0 else {
                let error = SSHError(.channelFailed, "writing to \(sourceAddress) failed: \(lastError)")
                endAfterFailedWrite(error)
                throw error
            }
            offset += Int(written)
        }
    }

    /// True once the client is gone (its DISCONNECT, a reset) while the
    /// session was not ended on purpose and no write merely timed out: the
    /// requests it sent before may still be read, though no reply can go.
    public var clientLeft: Bool {
        ended && !dropHeld && !interrupted.load(ordering: .sequentiallyConsistent) && ssh_get_status(session) & SSH_CLOSED_ERROR != 0
    }

    /// After a write failed, reads never wait again. If the client is gone
    /// (libssh's session in error: its DISCONNECT, a reset), the requests
    /// it sent before are still handed over; if it is alive but stopped
    /// reading (the write timed out), nothing more is read.
    private func endAfterFailedWrite(_ error: SSHError) {
        guard !ended else { return }
        ended = true
        endError = error
        if ssh_get_status(session) & SSH_CLOSED_ERROR == 0 { dropHeld = true }
    }

    /// Writes on the channel's extended-data (stderr) stream, which SFTP
    /// never uses: for tests that play a drop box flooding it.
    public func writeStandardError(_ bytes: [UInt8]) throws(SSHError) {
        guard let channel = context?.channel else { throw SSHError(.channelFailed, "no channel") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { ssh_channel_write_stderr(channel, $0.baseAddress! + offset, UInt32(bytes.count - offset)) }
            guard written > 0 else { throw SSHError(.channelFailed, "writing to \(sourceAddress) failed: \(lastError)") }
            offset += Int(written)
        }
    }

    /// How long `close` waits for the client to disconnect once the channel is closed.
    public static let disconnectGrace: Double = 5

    /// Sends EOF and closes the channel, then waits (at most
    /// `disconnectGrace`) for the client to close the connection, as
    /// OpenSSH's sshd does: a client whose link is dropped while it is still
    /// closing (rclone) reports an error after an operation that succeeded.
    public func close() {
        guard let channel = context?.channel else { return }
        ssh_channel_send_eof(channel)
        ssh_channel_close(channel)
        guard let event = ssh_event_new() else { return }
        defer { ssh_event_free(event) }
        ssh_event_add_session(event, session)
        defer { ssh_event_remove_session(event, session) }
        let deadline = Self.now() + Self.disconnectGrace
        while ssh_is_connected(session) != 0, Self.now() < deadline {
            guard ssh_event_dopoll(event, 100) != SSH_ERROR else { break }
        }
    }

    private var lastError: String { String(cString: ssh_get_error(UnsafeMutableRawPointer(session))) }

    /// The SSH wire blob of a public key (`ssh_pki_export_pubkey_blob` is
    /// not exported by this libssh: decode the Base64 form instead).
    static func blob(of key: ssh_key) -> [UInt8]? {
        var base64: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &base64) == SSH_OK, let base64 else { return nil }
        defer { ssh_string_free_char(base64) }
        return Base64.decode(String(cString: base64))
    }

    static func peerAddress(_ fd: Int32) -> String {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
        guard ok else { return "unknown" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        return result == 0 ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
