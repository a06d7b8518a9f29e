import Foundation
import Synchronization

/// `GET /metrics` over plain HTTP on a loopback address only, for a
/// Prometheus on the same host. One connection at a time, each bounded by
/// a short timeout: a scrape is one small request, and nothing here is
/// reachable from another machine.
public final class MetricsListener: Sendable {
    public let host: String
    /// The port bound (the one asked for, or the one picked for port 0).
    public let port: Int
    let metrics: DropBoxMetrics
    private let fd: Int32
    /// Whether the serving thread runs (it then closes the socket) and whether it should stop.
    private let state = Mutex((started: false, stopped: false))

    /// The longest a connection may take to send its request or read the answer.
    static let timeout = timeval(tv_sec: 2, tv_usec: 0)
    /// A scrape's request line and headers fit in far less.
    static let maximumRequest = 8192

    /// Binds `host:port`; `host` must be an IPv4 address in 127.0.0.0/8 or `::1`.
    public init(host: String, port: Int, metrics: DropBoxMetrics) throws(MetricsListenError) {
        guard let family = Self.loopbackFamily(host) else {
            throw MetricsListenError("metrics-listen must be a loopback address (127.0.0.0/8 or ::1), not \(host): metrics are not served to the network")
        }
        guard (0...65535).contains(port) else { throw MetricsListenError("metrics-listen port \(port) is out of range") }
        let fd = Foundation.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsListenError("cannot open a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        let chosen: Int
        if family == AF_INET {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            (bound, chosen) = Self.bind(fd, &address) { $0.sin_port }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, host, &address.sin6_addr)
            (bound, chosen) = Self.bind(fd, &address) { $0.sin6_port }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw MetricsListenError("cannot listen for metrics on \(host):\(port): \(message)")
        }
        self.host = host
        self.port = chosen
        self.metrics = metrics
        self.fd = fd
    }

    /// Binds `fd` to `address` (a sockaddr_in or sockaddr_in6); the result and the port bound.
    private static func bind<Address>(_ fd: Int32, _ address: inout Address, port: (Address) -> in_port_t) -> (Int32, Int) {
        var length = socklen_t(MemoryLayout<Address>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.bind(fd, $0, length) } }
        guard bound == 0 else { return (bound, 0) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (bound, Int(UInt16(bigEndian: port(address))))
    }

    /// AF_INET or AF_INET6 for a loopback address; nil for anything else (names included).
    public static func loopbackFamily(_ host: String) -> Int32? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127 ? AF_INET : nil
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            return bytes == [UInt8](repeating: 0, count: 15) + [1] ? AF_INET6 : nil
        }
        return nil
    }

    /// Serves on a thread of its own until `stop`; `refresh` runs before
    /// each answer, for gauges read from elsewhere.
    public func start(refresh: @escaping @Sendable () -> Void = {}) {
        state.withLock { $0.started = true }
        Thread.detachNewThread { [self] in
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 {
                    if state.withLock({ $0.stopped }) { break }
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    usleep(100_000)
                    continue
                }
                serve(connection, refresh: refresh)
                close(connection)
            }
            // Closed here, not in `stop`: the number must not be reused while accept may still use it.
            close(fd)
        }
    }

    /// Stops listening; a scrape in progress finishes.
    public func stop() {
        let (started, stopped) = state.withLock { state in
            defer { state.stopped = true }
            return (state.started, state.stopped)
        }
        guard !stopped else { return }
        // Wakes the accept: it fails from now on.
        shutdown(fd, Int32(SHUT_RDWR))
        if !started { close(fd) }
    }

    private func serve(_ connection: Int32, refresh: @Sendable () -> Void) {
        let fd = connection
        var timeout = Self.timeout
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 2048)
        while request.count < Self.maximumRequest, !request.ends(with: Array("\r\n\r\n".utf8)) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            request += chunk[..<n]
        }
        send(
            fd,
            Self.response(
                to: request,
                body: {
                    refresh(); return metrics.exposition()
                }))
    }

    /// The answer to one request: pure, so it is tested without a socket.
    static func response(to request: [UInt8], body: () -> [UInt8]) -> [UInt8] {
        let line = request.split(separator: UInt8(ascii: "\r"), maxSplits: 1).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let parts = line.split(separator: " ")
        let status: String
        var content: [UInt8] = []
        var type = "text/plain; charset=utf-8"
        if parts.count != 3 || !parts[2].hasPrefix("HTTP/1.") {
            status = "400 Bad Request"
        } else if parts[0] != "GET" {
            status = "405 Method Not Allowed"
        } else if parts[1] != "/metrics" {
            status = "404 Not Found"
        } else {
            status = "200 OK"
            type = "text/plain; version=0.0.4; charset=utf-8"
            content = body()
        }
        if content.isEmpty && status != "200 OK" { content = Array((status + "\n").utf8) }
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(content.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + content
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            sent += n
        }
    }
}

/// A metrics listener that cannot be set up.
public struct MetricsListenError: Error, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
