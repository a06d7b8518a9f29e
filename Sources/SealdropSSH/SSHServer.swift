internal import CLibSSH
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A listening SSH endpoint. The TCP socket is ours (libssh's own listener
/// uses a backlog of 10, so a burst of connections would wait in SYN
/// retries for seconds); each accepted descriptor is handed to libssh
/// (`ssh_bind_accept_fd`) with the host key of the `ssh_bind` this class
/// owns. Connections come out of `accept()` one at a time; each is then
/// served on its own thread by its owner.
public final class SSHServer: @unchecked Sendable {
    /// The default queue of connections the kernel completes before we
    /// accept them: large enough for a burst of logins at once (Linux caps it
    /// at net.core.somaxconn, 4096 on current kernels).
    public static let defaultBacklog: Int32 = 1024

    private let bind: ssh_bind
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)
    /// The port actually bound (useful when asked for port 0).
    public let port: Int

    /// - Parameters:
    ///   - host: a loopback or interface address to listen on (IPv4 or IPv6).
    ///   - port: 0 picks a free port.
    ///   - hostKeyPath: an OpenSSH private key file (Ed25519).
    ///   - backlog: the kernel's queue of connections not yet accepted.
    public init(host: String, port: Int, hostKeyPath: String, backlog: Int32 = SSHServer.defaultBacklog) throws(SSHError) {
        guard let bind = ssh_bind_new() else { throw SSHError(.serverFailed, "libssh could not create a listener") }
        guard ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, hostKeyPath) == SSH_OK else {
            let reason = String(cString: ssh_get_error(UnsafeMutableRawPointer(bind)))
            ssh_bind_free(bind)
            throw SSHError(.serverFailed, "libssh refused the host key \(hostKeyPath): \(reason)")
        }
        let listener: Int32
        do {
            listener = try Self.listen(host: host, port: port, backlog: backlog)
        } catch {
            ssh_bind_free(bind)
            throw error
        }
        self.bind = bind
        self.listener = listener
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.port = Int(Self.port(of: address))
    }

    deinit {
        close(listener)
        ssh_bind_free(bind)
    }

    /// Waits for the next TCP connection (TCP_NODELAY set: session set-up
    /// falls from ≈ 90 ms to ≈ 3 ms) and hands it to libssh at once; the
    /// key exchange happens later, on the connection's own thread. Throws
    /// once `stop()` was called.
    public func accept() throws(SSHError) -> SSHServerConnection {
        try handOver(try acceptSocket())
    }

    /// Waits for the next TCP connection, not yet handed to libssh: the
    /// caller may read a PROXY header from it first (on another thread),
    /// then calls `handOver`. Throws once `stop()` was called.
    public func acceptSocket() throws(SSHError) -> AcceptedSocket {
        var fd: Int32 = -1
        while fd < 0 {
            guard !isStopped else { throw SSHError(.serverFailed, "the listener is stopped") }
            fd = Glibc.accept(listener, nil, nil)
            if fd < 0 {
                let code = errno
                if code == EINTR || code == ECONNABORTED { continue }
                if isStopped { throw SSHError(.serverFailed, "the listener is stopped") }
                throw SSHError(.serverFailed, "accept failed: \(String(cString: strerror(code)))")
            }
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return AcceptedSocket(fd: fd)
    }

    /// Hands an accepted connection to libssh (which then owns and closes
    /// its descriptor). `sourceAddress` replaces the TCP peer's address in
    /// everything the connection reports: the client's address from a
    /// balancer's PROXY header.
    public func handOver(_ socket: AcceptedSocket, sourceAddress: String? = nil) throws(SSHError) -> SSHServerConnection {
        guard let session = ssh_new() else { throw SSHError(.serverFailed, "libssh could not create a session") }
        let fd = socket.takeDescriptor()
        // From here libssh owns the descriptor and closes it with the session.
        guard ssh_bind_accept_fd(bind, session, fd) == SSH_OK else {
            let reason = String(cString: ssh_get_error(UnsafeMutableRawPointer(bind)))
            ssh_free(session)
            close(fd)
            throw SSHError(.serverFailed, "accept failed: \(reason)")
        }
        return SSHServerConnection(session: session, sourceAddress: sourceAddress ?? socket.peerAddress)
    }

    /// Stops accepting: a thread blocked in `accept()` returns with an error,
    /// and connections still queued in the kernel are reset.
    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        shutdown(listener, Int32(SHUT_RDWR))
    }

    public var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }

    /// Throws the error `init` would throw for `host`:`port` (an address
    /// not on this machine, a port in use or not allowed), binding and
    /// closing a socket: lets a server check where it will listen before it
    /// creates anything on disk.
    public static func checkListen(host: String, port: Int) throws(SSHError) {
        close(try listen(host: host, port: port, backlog: 1))
    }

    /// A socket bound to `host`:`port` and listening with `backlog`.
    private static func listen(host: String, port: Int, backlog: Int32) throws(SSHError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &found)
        guard resolved == 0, let first = found else {
            throw SSHError(.serverFailed, "cannot listen on \(host):\(port): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(found) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), first.pointee.ai_protocol)
        guard fd >= 0 else { throw SSHError(.serverFailed, "cannot create a socket for \(host):\(port): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if first.pointee.ai_family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        guard Glibc.bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0, Glibc.listen(fd, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw SSHError(.serverFailed, "cannot listen on \(host):\(port): \(reason)")
        }
        return fd
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
