internal import CLibSSH

#if canImport(Glibc)
    import Glibc
#endif

/// A listening SSH endpoint (libssh `ssh_bind`), owning its handle.
/// Connections come out of `accept()` one at a time; each is then served
/// on its own thread by its owner.
public final class SSHServer: @unchecked Sendable {
    private let bind: ssh_bind
    /// The port actually bound (useful when asked for port 0).
    public let port: Int

    /// - Parameters:
    ///   - host: a loopback or interface address to listen on.
    ///   - port: 0 picks a free port.
    ///   - hostKeyPath: an OpenSSH private key file (Ed25519).
    public init(host: String, port: Int, hostKeyPath: String) throws(SSHError) {
        guard let bind = ssh_bind_new() else { throw SSHError(.serverFailed, "libssh could not create a listener") }
        self.bind = bind
        var portValue = UInt32(port)
        var failed = ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDADDR, host) != SSH_OK
        failed = failed || ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDPORT, &portValue) != SSH_OK
        failed = failed || ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, hostKeyPath) != SSH_OK
        if failed {
            ssh_bind_free(bind)
            throw SSHError(.serverFailed, "libssh refused the listener options: \(String(cString: ssh_get_error(UnsafeMutableRawPointer(bind))))")
        }
        guard ssh_bind_listen(bind) == SSH_OK else {
            let reason = String(cString: ssh_get_error(UnsafeMutableRawPointer(bind)))
            ssh_bind_free(bind)
            throw SSHError(.serverFailed, "cannot listen on \(host):\(port): \(reason)")
        }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = ssh_bind_get_fd(bind)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(Self.port(of: address))
    }

    deinit {
        ssh_bind_free(bind)
    }

    /// Waits for the next TCP connection; the key exchange happens later,
    /// on the connection's own thread.
    public func accept() throws(SSHError) -> SSHServerConnection {
        guard let session = ssh_new() else { throw SSHError(.serverFailed, "libssh could not create a session") }
        guard ssh_bind_accept(bind, session) == SSH_OK else {
            let reason = String(cString: ssh_get_error(UnsafeMutableRawPointer(bind)))
            ssh_free(session)
            throw SSHError(.serverFailed, "accept failed: \(reason)")
        }
        return SSHServerConnection(session: session)
    }

    static func port(of address: sockaddr_storage) -> UInt16 {
        var copy = address
        return withUnsafePointer(to: &copy) { pointer in
            if Int32(address.ss_family) == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }
}
