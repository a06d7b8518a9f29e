import Foundation

/// A TCP relay on loopback between a client and the server that cuts each
/// connection once `limit` bytes went through in one direction: a network
/// that fails in the middle of a transfer.
final class CuttingRelay: @unchecked Sendable {
    enum Direction {
        case toServer, toClient
    }

    let port: Int
    private let listener: Int32
    private let upstream: Int
    private let limit: Int
    private let direction: Direction
    private let lock = NSLock()
    private var cuts = 0
    /// Pumps still running per connection (by the client's descriptor).
    private var open: [Int32: Int] = [:]

    init(to upstream: Int, cutAfter limit: Int, _ direction: Direction) throws {
        self.upstream = upstream
        self.limit = limit
        self.direction = direction
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 16) == 0 else {
            close(fd)
            throw FixtureError.setup("the relay cannot listen")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Connections cut so far.
    var cutCount: Int { lock.withLock { cuts } }

    private func acceptLoop() {
        signal(SIGPIPE, SIG_IGN)
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstream)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            let counted = direction == .toServer
            lock.withLock { open[client] = 2 }
            Thread.detachNewThread { [self] in
                pump(from: client, to: server, counted: counted, ends: (client, server))
                finished(client, server)
            }
            Thread.detachNewThread { [self] in
                pump(from: server, to: client, counted: !counted, ends: (client, server))
                finished(client, server)
            }
        }
    }

    /// The second pump of a connection to stop closes both descriptors.
    private func finished(_ client: Int32, _ server: Int32) {
        let last = lock.withLock { () -> Bool in
            open[client, default: 1] -= 1
            if open[client] == 0 { open[client] = nil }
            return open[client] == nil
        }
        if last {
            close(client)
            close(server)
        }
    }

    private func pump(from source: Int32, to destination: Int32, counted: Bool, ends: (Int32, Int32)) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        var total = 0
        while true {
            let room = counted ? min(buffer.count, limit - total) : buffer.count
            if room <= 0 {
                // The cut: both ends see the connection reset at once.
                lock.withLock { cuts += 1 }
                var hard = linger(l_onoff: 1, l_linger: 0)
                for end in [ends.0, ends.1] {
                    setsockopt(end, SOL_SOCKET, SO_LINGER, &hard, socklen_t(MemoryLayout<linger>.size))
                    shutdown(end, Int32(SHUT_RDWR))
                }
                return
            }
            let got = recv(source, &buffer, room, 0)
            guard got > 0 else {
                shutdown(destination, Int32(SHUT_WR))
                return
            }
            var sent = 0
            while sent < got {
                let n = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + sent, got - sent, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { return }
                sent += n
            }
            total += got
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
