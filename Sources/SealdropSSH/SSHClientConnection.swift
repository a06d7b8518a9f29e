internal import CLibSSH

#if canImport(Glibc)
    import Glibc
#endif

/// A client SSH connection (libssh `ssh_session`) to a drop box: connects,
/// checks the server's host key against the pinned fingerprint before
/// sending anything of ours, logs in with a public key and opens the
/// `sftp` subsystem. The session and channel never leave this type.
public final class SSHClientConnection: @unchecked Sendable {
    private let session: ssh_session
    private var channel: ssh_channel?

    /// The host key fingerprint the server presented, as OpenSSH prints it.
    public private(set) var hostKeyFingerprint = ""
    /// Longest wait for any one answer of the server, in milliseconds.
    private let timeoutMilliseconds: Int32
    private let peer: String

    /// A server that says nothing for this long is given up on.
    public static let defaultTimeout = 30
    /// Bytes a server may send on the channel's extended-data (stderr)
    /// stream in one session. SFTP never uses it, and libssh keeps what
    /// arrives there until it is read (its window reopens at every read of
    /// ours), so a server could grow our memory by a window per reply: it
    /// is drained after every read and refused past this.
    public static let maximumStandardErrorBytes = 1 << 20
    private var standardErrorBytes = 0

    /// - Parameters:
    ///   - pinnedHostKey: `SHA256:...`, or several comma-separated (a
    ///     host-key rollover); any other key ends the connection before
    ///     authentication, with the fingerprints in the error.
    ///   - privateKeyPEM: the user's unencrypted OpenSSH private key text;
    ///     wiped from libssh's copy when the key is freed.
    ///   - timeout: seconds; bounds the TCP connect, the key exchange and
    ///     login (libssh's `SSH_OPTIONS_TIMEOUT`) and then every read of
    ///     the channel, so a server that stalls gets a `.timedOut` error.
    public init(host: String, port: Int, user: String, pinnedHostKey: String, privateKeyPEM: String, timeout: Int = defaultTimeout) throws(SSHError) {
        guard let session = ssh_new() else { throw SSHError(.serverFailed, "libssh could not create a session") }
        self.session = session
        timeoutMilliseconds = Int32(clamping: max(1, timeout) * 1000)
        peer = "\(host):\(port)"
        var portValue = Int32(port)
        var seconds = Int(timeout)
        var noDelay: Int32 = 1
        var ignoreConfig: Int32 = 0
        let options =
            ssh_options_set(session, SSH_OPTIONS_HOST, host) == SSH_OK
            && ssh_options_set(session, SSH_OPTIONS_PORT, &portValue) == SSH_OK
            && ssh_options_set(session, SSH_OPTIONS_USER, user) == SSH_OK
            && ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &seconds) == SSH_OK
            && ssh_options_set(session, SSH_OPTIONS_NODELAY, &noDelay) == SSH_OK
            && ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &ignoreConfig) == SSH_OK
            && ssh_options_set(session, SSH_OPTIONS_CIPHERS_C_S, SSHCipherPreference.ciphers) == SSH_OK
            && ssh_options_set(session, SSH_OPTIONS_CIPHERS_S_C, SSHCipherPreference.ciphers) == SSH_OK
        guard options else { throw SSHError(.connectFailed, "libssh refused the connection options: \(lastError)") }
        let started = Self.now()
        guard ssh_connect(session) == SSH_OK else {
            // libssh reports a timeout only in its text; the clock says which it was.
            if Self.now() - started >= Double(timeout) - 0.5 {
                throw SSHError(.timedOut, "the server at \(host):\(port) did not complete the SSH handshake within \(timeout) s")
            }
            throw SSHError(.connectFailed, "cannot connect to \(host):\(port): \(lastError)")
        }
        hostKeyFingerprint = try Self.serverFingerprint(session)
        // Several pins (comma-separated) during a host-key rollover: any one of them.
        let pins = pinnedHostKey.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard pins.contains(hostKeyFingerprint) else {
            throw SSHError(
                .hostKeyMismatch,
                "the server at \(host):\(port) presented host key \(hostKeyFingerprint), not the pinned \(pins.joined(separator: " or "))")
        }
        var key: ssh_key?
        guard ssh_pki_import_privkey_base64(privateKeyPEM, nil, nil, nil, &key) == SSH_OK, let key else {
            throw SSHError(.keyImportFailed, "libssh could not read the identity key")
        }
        defer { ssh_key_free(key) }
        let result = ssh_userauth_publickey(session, nil, key)
        guard result == SSH_AUTH_SUCCESS.rawValue else {
            throw SSHError(.authenticationFailed, "the server refused the key for \(user): \(lastError)")
        }
        guard let channel = ssh_channel_new(session) else { throw SSHError(.channelFailed, "libssh could not create a channel") }
        self.channel = channel
        guard ssh_channel_open_session(channel) == SSH_OK, ssh_channel_request_subsystem(channel, "sftp") == SSH_OK else {
            throw SSHError(.channelFailed, "the server refused the sftp subsystem: \(lastError)")
        }
    }

    deinit {
        if let channel {
            ssh_channel_close(channel)
            ssh_channel_free(channel)
        }
        ssh_disconnect(session)
        ssh_free(session)
    }

    /// Reads channel data; 0 at end of stream. A server that sends nothing
    /// for the timeout is an error, never an endless wait.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SSHError) -> Int {
        guard let channel else { return 0 }
        let count = ssh_channel_read_timeout(channel, buffer.baseAddress, UInt32(buffer.count), 0, timeoutMilliseconds)
        try drainStandardError(channel)
        if count == SSH_ERROR { throw SSHError(.channelFailed, "reading from the server failed: \(lastError)") }
        if count == 0, ssh_channel_is_eof(channel) != 0 || ssh_channel_is_open(channel) == 0 { return 0 }
        if count == 0 {
            throw SSHError(.timedOut, "the server at \(peer) sent nothing for \(timeoutMilliseconds / 1000) s; it may be stalled or overloaded")
        }
        return Int(count)
    }

    /// Reads and drops what waits on the stderr stream, counting it.
    private func drainStandardError(_ channel: ssh_channel) throws(SSHError) {
        guard ssh_channel_poll(channel, 1) > 0 else { return }
        var scratch = [UInt8](repeating: 0, count: 32 * 1024)
        while ssh_channel_poll(channel, 1) > 0 {
            let got = scratch.withUnsafeMutableBytes { ssh_channel_read_nonblocking(channel, $0.baseAddress, UInt32($0.count), 1) }
            guard got > 0 else { return }
            standardErrorBytes += Int(got)
            guard standardErrorBytes <= Self.maximumStandardErrorBytes else {
                throw SSHError(
                    .channelFailed,
                    "the server at \(peer) sent more than \(Self.maximumStandardErrorBytes) bytes on the SSH error stream, which SFTP does not use; the session was ended"
                )
            }
        }
    }

    public func write(_ bytes: [UInt8]) throws(SSHError) {
        guard let channel else { throw SSHError(.channelFailed, "no channel") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { ssh_channel_write(channel, $0.baseAddress! + offset, UInt32(bytes.count - offset)) }
            // libssh returns 0 when the server's window stayed shut for the timeout.
            if written == 0 || (written == SSH_ERROR && lastError.isEmpty) {
                throw SSHError(.timedOut, "the server at \(peer) accepted no data for \(timeoutMilliseconds / 1000) s; it may be stalled or overloaded")
            }
            guard written > 0 else { throw SSHError(.channelFailed, "writing to the server failed: \(lastError)") }
            offset += Int(written)
        }
    }

    /// The ciphers negotiated for each direction, as libssh names them
    /// (`aes256-gcm@openssh.com`, ...).
    public var ciphers: (toServer: String, fromServer: String) {
        (ssh_get_cipher_out(session).map { String(cString: $0) } ?? "", ssh_get_cipher_in(session).map { String(cString: $0) } ?? "")
    }

    private var lastError: String { String(cString: ssh_get_error(UnsafeMutableRawPointer(session))) }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// `SHA256:...` of the server's host key, computed as OpenSSH does.
    static func serverFingerprint(_ session: ssh_session) throws(SSHError) -> String {
        var key: ssh_key?
        guard ssh_get_server_publickey(session, &key) == SSH_OK, let key else {
            throw SSHError(.hostKeyMismatch, "the server presented no host key")
        }
        defer { ssh_key_free(key) }
        var hash: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == SSH_OK, let hash else {
            throw SSHError(.hostKeyMismatch, "cannot hash the server's host key")
        }
        defer { var pointer: UnsafeMutablePointer<UInt8>? = hash; ssh_clean_pubkey_hash(&pointer) }
        guard let text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length) else {
            throw SSHError(.hostKeyMismatch, "cannot format the server's host key fingerprint")
        }
        defer { ssh_string_free_char(text) }
        return String(cString: text)
    }
}
