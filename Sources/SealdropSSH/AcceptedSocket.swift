import SealdropProxy

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection accepted by `SSHServer` and not yet handed to libssh:
/// the place to read what comes before the SSH exchange (a balancer's
/// PROXY header) on the connection's own thread, so that a slow peer never
/// holds up the accept loop. Closed when it goes, unless handed over.
public final class AcceptedSocket: @unchecked Sendable {
    /// The descriptor; -1 once handed to libssh.
    private(set) var fd: Int32
    /// The TCP peer's address (for a balanced connection, the balancer's).
    public let peerAddress: String

    init(fd: Int32) {
        self.fd = fd
        peerAddress = SSHServerConnection.peerAddress(fd)
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Gives the descriptor away (to libssh); this object no longer closes it.
    func takeDescriptor() -> Int32 {
        let taken = fd
        fd = -1
        return taken
    }

    /// Reads one PROXY protocol v2 header and nothing after it: the 16
    /// fixed bytes, then exactly the body they announce (bounded by
    /// `ProxyHeader.maximumBodyLength`), all within `timeout` seconds. The
    /// SSH bytes behind it stay in the socket for libssh.
    public func readProxyHeader(timeout: Double) throws(ProxyHeaderError) -> ProxyHeader {
        let deadline = SSHServerConnection.now() + timeout
        var bytes = try read(count: ProxyHeader.fixedLength, deadline: deadline)
        let length = try ProxyHeader.bodyLength(fixedPart: bytes[...])
        bytes += try read(count: length, deadline: deadline)
        return try ProxyHeader.decode(bytes)
    }

    /// Exactly `count` bytes, or an error once the peer closes or the deadline passes.
    private func read(count: Int, deadline: Double) throws(ProxyHeaderError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let left = deadline - SSHServerConnection.now()
            guard left > 0 else { throw ProxyHeaderError(.timedOut, "no complete PROXY header from \(peerAddress) in time") }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { continue }
            let received = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, count - filled, 0) }
            if received < 0, errno == EINTR || errno == EAGAIN { continue }
            guard received > 0 else {
                throw ProxyHeaderError(.truncated, "\(peerAddress) closed the connection after \(filled) bytes of a \(count)-byte PROXY header part")
            }
            filled += received
        }
        return bytes
    }

    /// Sends `text` without waiting (a refusal line, or the banner a
    /// balancer's health check expects); best effort, the socket closes next.
    public func sendLine(_ text: String) {
        let line = Array((text + "\r\n").utf8.prefix(250))
        _ = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }
}
