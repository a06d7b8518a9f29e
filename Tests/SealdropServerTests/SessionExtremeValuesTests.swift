import Foundation
@testable import SealdropServer
import SealdropSFTP
import Testing

/// Every number a client chooses, at its extremes, in every packet the
/// server accepts, against every kind of handle: each gets one clean reply
/// and the session (the real rules and driver, SQLite, files) still works.
@Suite struct SessionExtremeValuesTests {
    static let offsets: [UInt64] = [0, 1 << 31, 1 << 32, UInt64(Int64.max), .max]
    static let lengths: [UInt32] = [0, 1, 1 << 31, .max]
    static let flags: [UInt32] = [0, 1, 2, 1 << 31, .max]
    static let attributes: [SFTPAttributes] =
        [.empty]
        + offsets.map { value in
            let small = UInt32(truncatingIfNeeded: value == .max ? UInt64(UInt32.max) : value >> 1)
            return SFTPAttributes(
                size: value, userID: small, groupID: small, permissions: small, accessTime: small, modificationTime: small,
                extended: [(type: Array("x@y".utf8), data: [UInt8](repeating: 0xff, count: 16))])
        }
    /// Handles we never issue: empty, odd bytes, the codec's length limit and beyond.
    static let oddHandles: [[UInt8]] = [
        [], [0], [0xff], Array("1".utf8) + [0], [UInt8](repeating: 0x31, count: 255), [UInt8](repeating: 0x31, count: 256),
        [UInt8](repeating: 0x31, count: 257), [UInt8](repeating: 0xff, count: 4096),
    ]

    /// Sends `message` as bytes through the codec, as a client would; returns the one reply.
    @discardableResult
    static func send(_ session: SFTPSession, _ message: SFTPMessage) -> SFTPMessage? {
        let bytes = message.encode()
        let replies: [SFTPMessage]
        do {
            replies = session.handle(try SFTPMessage.decode(bytes[4...]))
        } catch {
            replies = session.reply(to: error).map { [$0] } ?? []
        }
        #expect(replies.count == 1, "\(message.packetType): \(replies.count) replies")
        guard let reply = replies.first else { return nil }
        #expect(reply.requestID == message.requestID, "\(message.packetType)")
        switch reply {
        case .status, .data, .handle, .attributes, .name: break
        case .version where message.packetType == .initialize: break
        default: Issue.record("\(message.packetType) answered with \(reply.packetType)")
        }
        return reply
    }

    static func handle(_ reply: SFTPMessage?) throws -> [UInt8] {
        guard case .handle(_, let handle)? = reply else { throw FixtureError.setup("no handle: \(String(describing: reply))") }
        return handle
    }

    @Test func extremeNumbersGetCleanAnswersAndTheSessionGoesOn() throws {
        let world = try DropBoxWorld()
        let envelope = try world.envelope(300_000)
        #expect(SessionTests.isOK(world.upload(envelope, as: try world.session("oldvendor"))))
        let recipient = try world.session("newvendor")
        let sender = try world.session("oldvendor")
        let name = try #require(world.inboxIDs(recipient).first)
        let id = String(name.dropLast(9))

        let handles: [(SFTPSession, [UInt8], String)] = [
            (recipient, try Self.handle(Self.send(recipient, .opendir(id: 1, path: Array("/inbox".utf8)))), "listing"),
            (
                recipient, try Self.handle(Self.send(recipient, .open(id: 2, path: Array("/directory/ca.pem".utf8), flags: .read, attributes: .empty))),
                "memory file"
            ),
            (recipient, try Self.handle(Self.send(recipient, .open(id: 3, path: Array("/inbox/\(name)".utf8), flags: .read, attributes: .empty))), "download"),
            (
                recipient,
                try Self.handle(Self.send(recipient, .open(id: 4, path: Array("/receipts/\(id).ack".utf8), flags: [.write, .create], attributes: .empty))),
                "statement"
            ),
            (
                sender,
                try Self.handle(Self.send(sender, .open(id: 5, path: Array("/outbox/newvendor/x".utf8), flags: [.write, .create], attributes: .empty))),
                "upload"
            ),
        ]
        var requestID: UInt32 = 100
        func next() -> UInt32 {
            requestID = requestID == UInt32.max ? 100 : requestID + 1
            return requestID
        }
        for (session, handle, _) in handles {
            for offset in Self.offsets {
                for length in Self.lengths { Self.send(session, .read(id: next(), handle: handle, offset: offset, length: length)) }
                for size in [0, 1, 1000] { Self.send(session, .write(id: next(), handle: handle, offset: offset, data: [UInt8](repeating: 7, count: size))) }
            }
            Self.send(session, .fstat(id: next(), handle: handle))
            Self.send(session, .readdir(id: next(), handle: handle))
            for attributes in Self.attributes { Self.send(session, .fsetstat(id: UInt32.max, handle: handle, attributes: attributes)) }
        }
        for odd in Self.oddHandles {
            for session in [recipient, sender] {
                Self.send(session, .read(id: next(), handle: odd, offset: .max, length: .max))
                Self.send(session, .write(id: next(), handle: odd, offset: .max, data: [1]))
                Self.send(session, .fstat(id: next(), handle: odd))
                Self.send(session, .fsetstat(id: next(), handle: odd, attributes: Self.attributes[1]))
                Self.send(session, .readdir(id: next(), handle: odd))
                Self.send(session, .close(id: next(), handle: odd))
                Self.send(session, .stat(id: next(), path: odd))
                Self.send(session, .realpath(id: next(), path: odd))
            }
        }
        let paths = SFTPOperationTableTests.samples.values.map { $0.replacingOccurrences(of: SFTPOperationTableTests.id, with: id) }
        for path in paths {
            for flags in Self.flags {
                for attributes in Self.attributes {
                    for session in [recipient, sender] {
                        let reply = Self.send(session, .open(id: next(), path: Array(path.utf8), flags: SFTPOpenFlags(rawValue: flags), attributes: attributes))
                        if case .handle(_, let opened)? = reply { Self.send(session, .close(id: next(), handle: opened)) }
                    }
                }
            }
            for attributes in Self.attributes { Self.send(sender, .setstat(id: next(), path: Array(path.utf8), attributes: attributes)) }
        }
        Self.send(recipient, .initialize(version: .max, extensions: []))

        // Still working: the download reads to the end and is delivered; a new upload publishes.
        let download = handles[2].1
        var received = [UInt8]()
        while case .data(_, let data)? = Self.send(recipient, .read(id: next(), handle: download, offset: UInt64(received.count), length: 65_536)) {
            received += data
        }
        #expect(received == envelope)
        #expect(Self.send(recipient, .close(id: next(), handle: download)) == .status(id: requestID, code: .ok, message: "delivered"))
        #expect(SessionTests.isOK(world.upload(try world.envelope(1000), as: sender)))
        #expect(world.dropBox.reservations.usage(of: "oldvendor").uploads == 1, "only the extreme-values upload is still open")
        sender.end()
        #expect(world.dropBox.reservations.usage(of: "oldvendor") == UploadReservations.Usage())
        #expect(world.staging().isEmpty)
    }
}
