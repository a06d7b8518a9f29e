import Foundation
import Glibc
import SealdropProxy

/// TCP helpers for PROXY protocol tests: a connection from a chosen
/// loopback source address, and a relay that does what a balancer does
/// (connects to the node, writes a header, then copies bytes both ways).
enum LoopbackSocket {
    /// A TCP connection to 127.0.0.1:`port` whose source is `source` (any of 127.0.0.0/8).
    static func connect(to port: Int, from source: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FixtureError.setup("socket: \(errno)") }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, connected == 0 else {
            close(fd)
            throw FixtureError.setup("cannot connect from \(source) to port \(port): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// A socket listening on 127.0.0.1 at a free port.
    static func connectableListener() throws -> (socket: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw FixtureError.setup("cannot listen on 127.0.0.1")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything the peer sends until it closes (or `seconds` pass): the
    /// bytes, and whether it closed.
    static func readUntilClosed(_ fd: Int32, seconds: Double = 10) -> (bytes: [UInt8], closed: Bool) {
        var bytes = [UInt8]()
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return (bytes, true) }
            bytes += buffer[0..<count]
        }
        return (bytes, false)
    }
}

/// A one-address balancer for tests: accepts on 127.0.0.1, connects to the
/// node from `source`, writes `header(client)` (the client's real address
/// as text), then relays bytes both ways until either side closes.
final class ProxyRelay: @unchecked Sendable {
    let port: Int
    private let listener: Int32

    init(to nodePort: Int, from source: String, header: @escaping @Sendable (_ client: String) -> [UInt8]) throws {
        (listener, port) = try LoopbackSocket.connectableListener()
        let listener = listener
        Thread.detachNewThread {
            Self.leaveChildSignalsToOthers()
            while true {
                var peer = sockaddr_in()
                var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
                let client = withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &peerLength) }
                }
                guard client >= 0 else { return }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                let clientAddress = ProxyEndpoint(address: withUnsafeBytes(of: peer.sin_addr) { Array($0) }, port: 0).text
                guard let node = try? LoopbackSocket.connect(to: nodePort, from: source) else {
                    close(client)
                    continue
                }
                LoopbackSocket.send(node, header(clientAddress))
                Self.pump(from: client, to: node)
                Self.pump(from: node, to: client)
            }
        }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Copies `from` → `to` on its own thread; at end of stream, half-closes `to`.
    /// Foundation learns that a child process exited from SIGCHLD; these
    /// long-lived threads block it, so it always reaches a thread the
    /// runtime expects (a caution: tests here were seen waiting on children
    /// that had exited, and signals taken by stray threads are one way that
    /// happens on Linux).
    static func leaveChildSignalsToOthers() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGCHLD)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private static func pump(from: Int32, to: Int32) {
        Thread.detachNewThread {
            leaveChildSignalsToOthers()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = recv(from, &buffer, buffer.count, 0)
                guard count > 0 else { break }
                var sent = 0
                while sent < count {
                    let written = buffer.withUnsafeBytes { Glibc.send(to, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
                    guard written > 0 else { break }
                    sent += written
                }
                if sent < count { break }
            }
            shutdown(to, Int32(SHUT_WR))
        }
    }
}
