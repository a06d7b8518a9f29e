import Foundation
import SealdropSFTP
@testable import SealdropServer
import Testing
import TestSupport

/// Open downloads keep their claims only while the client moves bytes: an
/// idle handle kept company by zero-length READs lets its lease lapse, so a
/// fully served transfer is delivered by the next sweep instead of waiting
/// for its expiry. Runs on a 2 s lease (renewed every 0.5 s).
@Suite struct ClaimRenewalTests {
    static func world() throws -> DropBoxWorld {
        let world = try DropBoxWorld()
        world.configuration.claimLease = 2
        try world.reopen()
        return world
    }

    static func open(_ name: String, in session: SFTPSession) throws -> [UInt8] {
        guard case .handle(_, let handle) = session.handle(.open(id: 1, path: Array("/inbox/\(name)".utf8), flags: .read, attributes: .empty)).first else {
            throw FixtureError.setup("open of \(name) refused")
        }
        return handle
    }

    static func readAll(_ handle: [UInt8], in session: SFTPSession) -> Int {
        var offset: UInt64 = 0
        while case .data(_, let data) = session.handle(.read(id: 2, handle: handle, offset: offset, length: 65_536)).first {
            offset += UInt64(data.count)
        }
        return Int(offset)
    }

    /// One transfer, received whole on a CLOSEd handle of one session while
    /// an idle handle of another session (`holder`) still claims it.
    static func receivedWhileHeld(_ world: DropBoxWorld) throws -> (holder: SFTPSession, held: [UInt8]) {
        let envelope = try world.envelope(20_000)
        #expect(SessionTests.isOK(world.upload(envelope, as: try world.session("oldvendor"))))
        let holder = try world.session("newvendor")
        let name = try #require(world.inboxIDs(holder).first)
        let held = try Self.open(name, in: holder)
        let reader = try world.session("newvendor")
        let handle = try Self.open(name, in: reader)
        #expect(Self.readAll(handle, in: reader) == envelope.count)
        _ = reader.handle(.close(id: 3, handle: handle))
        #expect(world.dropBox.reap() == 0, "the idle handle's lease holds the delivery back")
        return (holder, held)
    }

    @Test func zeroLengthReadsDoNotHoldOffDelivery() throws {
        let world = try Self.world()
        let (holder, held) = try Self.receivedWhileHeld(world)
        // Only empty READs on the idle handle, for longer than the lease.
        for index in 0..<30 {
            let id = UInt32(10 + index)
            #expect(holder.handle(.read(id: id, handle: held, offset: 0, length: 0)).first == .data(id: id, data: []))
            usleep(100_000)
        }
        #expect(world.dropBox.reap() == 1, "the idle handle's lease lapsed: the sweep delivers")
        #expect(world.blobs().isEmpty, "delivered, its blob deleted")
    }

    @Test func bytesMovedOnAnotherHandleKeepTheClaim() throws {
        let world = try Self.world()
        let (holder, held) = try Self.receivedWhileHeld(world)
        let first = Set(world.inboxIDs(holder))
        #expect(SessionTests.isOK(world.upload(try world.envelope(200_000), as: try world.session("oldvendor"))))
        let name = try #require(Set(world.inboxIDs(holder)).subtracting(first).first)
        let busy = try Self.open(name, in: holder)
        // 1000 bytes every 0.1 s on another handle of the session, for longer than the lease.
        for index in 0..<30 {
            let id = UInt32(10 + index)
            guard case .data(_, let data) = holder.handle(.read(id: id, handle: busy, offset: UInt64(index * 1000), length: 1000)).first else {
                Issue.record("read \(index) refused")
                return
            }
            #expect(data.count == 1000)
            usleep(100_000)
        }
        #expect(world.dropBox.reap() == 0, "the client is working: its idle handle keeps the claim")
        #expect(world.blobs().count == 2)
        _ = holder.handle(.close(id: 40, handle: held))
        world.dropBox.reap()
        #expect(world.blobs().count == 1, "closed: the first transfer is delivered")
    }

    @Test func theRenewalIntervalFollowsTheLease() {
        #expect(SessionRules.renewalInterval(forLease: 60) == 15)
        #expect(SessionRules.renewalInterval(forLease: 600) == 15)
        #expect(SessionRules.renewalInterval(forLease: 3) == 0.75)
        #expect(SessionRules.renewalInterval(forLease: 1) == 0.25)
    }

    @Test func onlyRequestsThatMoveBytesCount() {
        let handle: [UInt8] = [1]
        #expect(SessionRules.movedBytes(.read(id: 1, handle: handle, offset: 0, length: 10), [.data(id: 1, data: [7])]))
        #expect(!SessionRules.movedBytes(.read(id: 1, handle: handle, offset: 0, length: 0), [.data(id: 1, data: [])]))
        #expect(!SessionRules.movedBytes(.read(id: 1, handle: handle, offset: 99, length: 10), [.status(id: 1, code: .eof, message: "end of file")]))
        #expect(SessionRules.movedBytes(.write(id: 1, handle: handle, offset: 0, data: [1]), [.status(id: 1, code: .ok, message: "")]))
        #expect(!SessionRules.movedBytes(.write(id: 1, handle: handle, offset: 0, data: []), [.status(id: 1, code: .ok, message: "")]))
        #expect(!SessionRules.movedBytes(.write(id: 1, handle: handle, offset: 0, data: [1]), [.status(id: 1, code: .failure, message: "no")]))
        #expect(!SessionRules.movedBytes(.stat(id: 1, path: Array("/inbox".utf8)), [.attributes(id: 1, attributes: .empty)]))
    }
}
