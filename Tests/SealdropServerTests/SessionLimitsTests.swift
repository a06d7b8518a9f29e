import Foundation
@testable import SealdropServer
import SealdropSFTP
import Testing

/// A value handed to parallel workers that each use their own part of it.
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
}

/// Limits across sessions: several sessions of one vendor at once, on one
/// drop box, cannot together exceed the pending cap, the byte quota or the
/// uploads in flight.
@Suite struct SessionLimitsTests {
    static func open(_ session: SFTPSession, _ name: String) -> SFTPMessage {
        session.handle(.open(id: 1, path: Array("/outbox/newvendor/\(name)".utf8), flags: [.write, .create, .truncate], attributes: .empty))[0]
    }

    @Test func parallelOpensCannotExceedThePendingCap() throws {
        let world = try DropBoxWorld()
        world.configuration.maximumPendingPerVendor = 3
        try world.reopen()
        #expect(SessionTests.isOK(world.upload(try world.envelope(), as: try world.session("oldvendor"))))
        let sessions = Unchecked(value: try (0..<8).map { _ in try world.session("oldvendor") })
        let replies = Unchecked(value: UnsafeMutableBufferPointer<SFTPMessage?>.allocate(capacity: 8))
        defer { replies.value.deallocate() }
        replies.value.initialize(repeating: nil)
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            replies.value[index] = Self.open(sessions.value[index], "x\(index)")
        }
        let granted = replies.value.filter { if case .handle? = $0 { true } else { false } }
        #expect(granted.count == 2, "one transfer waits; two more uploads fit under the cap of 3")
        for case .status(_, let code, let message)? in replies.value {
            #expect(code == .failure)
            #expect(message.contains("the limit of 3"), "\(message)")
        }
        #expect(world.dropBox.reservations.usage(of: "oldvendor").uploads == 2)
        for session in sessions.value { session.end() }
        #expect(world.dropBox.reservations.usage(of: "oldvendor") == UploadReservations.Usage())
        #expect(world.staging().isEmpty)
    }

    @Test func parallelOpensCannotExceedTheUploadsInFlight() throws {
        let world = try DropBoxWorld()
        let perSession = SessionRules.maximumUploadsPerSession
        let count = UploadReservations.maximumInFlightPerVendor / perSession + 2
        let sessions = Unchecked(value: try (0..<count).map { _ in try world.session("oldvendor") })
        let granted = Unchecked(value: UnsafeMutableBufferPointer<Int>.allocate(capacity: count))
        defer { granted.value.deallocate() }
        granted.value.initialize(repeating: 0)
        DispatchQueue.concurrentPerform(iterations: count) { index in
            for upload in 0..<perSession {
                if case .handle = Self.open(sessions.value[index], "x\(index)-\(upload)") { granted.value[index] += 1 }
            }
        }
        #expect(granted.value.reduce(0, +) == UploadReservations.maximumInFlightPerVendor)
        #expect(world.staging().count == UploadReservations.maximumInFlightPerVendor)
        for session in sessions.value { session.end() }
        #expect(world.staging().isEmpty)
    }

    @Test func stagedBytesCountAgainstTheQuota() throws {
        let world = try DropBoxWorld()
        let first = try world.envelope(100_000)
        let second = try world.envelope(100_000)
        world.configuration.maximumStoredBytesPerVendor = UInt64(first.count + first.count / 2)
        try world.reopen()
        // One session stages most of the quota and has not finished...
        let slow = try world.session("oldvendor")
        guard case .handle(_, let handle) = Self.open(slow, "slow") else {
            Issue.record("open refused")
            return
        }
        #expect(SessionTests.isOK(slow.handle(.write(id: 2, handle: handle, offset: 0, data: Array(first.dropLast(1000))))[0]))
        // ...so another session's upload does not fit, though nothing is published yet.
        guard case .status(_, .failure, let message) = world.upload(second, as: try world.session("oldvendor")) else {
            Issue.record("the second upload went past the quota")
            return
        }
        #expect(message.contains("quota"), "\(message)")
        #expect(world.staging().count == 1, "the refused upload was removed at once")
        // The first one finishes and publishes.
        #expect(SessionTests.isOK(slow.handle(.write(id: 3, handle: handle, offset: UInt64(first.count - 1000), data: Array(first.suffix(1000))))[0]))
        #expect(SessionTests.isOK(slow.handle(.close(id: 4, handle: handle))[0]))
        #expect(world.dropBox.reservations.usage(of: "oldvendor") == UploadReservations.Usage())
    }

    @Test func parallelUploadsCannotExceedTheQuota() throws {
        let world = try DropBoxWorld()
        let envelopes = try (0..<6).map { _ in try world.envelope(100_000) }
        let size = UInt64(envelopes[0].count)
        world.configuration.maximumStoredBytesPerVendor = 3 * size + size / 2
        try world.reopen()
        let sessions = Unchecked(value: try envelopes.map { _ in try world.session("oldvendor") })
        let closes = Unchecked(value: UnsafeMutableBufferPointer<SFTPMessage?>.allocate(capacity: envelopes.count))
        defer { closes.value.deallocate() }
        closes.value.initialize(repeating: nil)
        let shared = Unchecked(value: (world, envelopes))
        DispatchQueue.concurrentPerform(iterations: envelopes.count) { index in
            closes.value[index] = shared.value.0.upload(shared.value.1[index], as: sessions.value[index])
        }
        let published = closes.value.filter { $0.map(SessionTests.isOK) ?? false }.count
        #expect(published >= 1 && published <= 3, "\(published) published")
        let usage = try world.dropBox.store.pendingUsage(sender: "oldvendor")
        #expect(usage.bytes <= world.configuration.maximumStoredBytesPerVendor)
        #expect(usage.count == published)
        for case .status(_, let code, let message)? in closes.value where code != .ok {
            #expect(message.contains("quota"), "\(message)")
        }
        #expect(world.staging().isEmpty)
        #expect(world.dropBox.reservations.usage(of: "oldvendor") == UploadReservations.Usage())
    }
}
