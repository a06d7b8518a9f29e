import Foundation
import SealdropSFTP

/// Runs one SFTP session over a byte stream: frames packets, hands them to
/// the session, writes the replies. The same loop serves a libssh channel
/// and stdin/stdout (an OpenSSH `Subsystem`), given two closures.
public struct SFTPConnection {
    /// Reads some bytes into the buffer; 0 means the client is gone.
    public typealias Receive = (UnsafeMutableRawBufferPointer) throws -> Int
    public typealias Send = ([UInt8]) throws -> Void

    let session: SFTPSession

    public init(session: SFTPSession) {
        self.session = session
    }

    /// Serves until the client disconnects or breaks the framing; then ends
    /// the session (unfinished uploads dropped, claims released).
    ///
    /// A reply that cannot be sent because the client hung up (`clientLeft`
    /// says so after the failure) does not end the session at once: every
    /// request that arrived before the hang-up is still handled, in order
    /// (lftp sends its last CLOSE and disconnects without waiting for the
    /// replies), unless the lost reply carried file bytes: bytes the client
    /// never got must not count at a later CLOSE. Any other failed reply
    /// (a client that stopped reading, a session ended by the drop box)
    /// ends the session there.
    public func run(receive: Receive, send: Send, clientLeft: () -> Bool = { false }) {
        defer { session.end() }
        var framer = SFTPPacketFramer()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var repliesLost = false
        while true {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try receive($0) }
            } catch {
                session.dropBox.log("\(session.vendor.name): session ended: \(error)")
                return
            }
            if count <= 0 { return }
            framer.append(buffer[0..<count])
            while true {
                let body: ArraySlice<UInt8>
                do {
                    guard let next = try framer.nextPacketBody() else { break }
                    body = next
                } catch {
                    // The length field itself is bad: the stream cannot be resynchronised.
                    session.dropBox.log("\(session.vendor.name): closing the session: \(error)")
                    return
                }
                // Past a lost reply, requests are handled only while the
                // reason is still that the client left.
                if repliesLost, !clientLeft() { return }
                let replies: [SFTPMessage]
                do {
                    replies = session.handle(try SFTPMessage.decode(body))
                } catch {
                    replies = session.reply(to: error).map { [$0] } ?? []
                }
                for reply in replies {
                    if repliesLost, reply.carriesFileBytes { return }
                    guard !repliesLost else { continue }
                    do {
                        try send(reply.encode())
                    } catch {
                        guard !reply.carriesFileBytes, clientLeft() else {
                            session.dropBox.log("\(session.vendor.name): session ended: \(error)")
                            return
                        }
                        session.dropBox.log("\(session.vendor.name): the client left: \(error); handling what it sent before")
                        repliesLost = true
                    }
                }
                if session.isClosed { return }
            }
        }
    }
}

extension SFTPMessage {
    /// A READ's reply with file bytes in it.
    fileprivate var carriesFileBytes: Bool {
        if case .data = self { return true }
        return false
    }
}
