import Foundation
@testable import SealdropServer
import Testing

/// The shared ledger on its own: what it grants, refuses and gives back.
@Suite struct UploadReservationsTests {
    static let limits = UploadReservations.Limits(maximumPending: 3, maximumBytes: 1000, maximumFileSize: 800)

    @Test func uploadsCountAgainstThePendingCapUntilReleased() throws {
        let ledger = UploadReservations()
        let stored = { (bytes: UInt64(0), count: 1) }
        let first = try ledger.open(vendor: "a", limits: Self.limits, pending: stored)
        _ = try ledger.open(vendor: "a", limits: Self.limits, pending: stored)
        #expect(throws: UploadReservations.Refused.self) { try ledger.open(vendor: "a", limits: Self.limits, pending: stored) }
        _ = try ledger.open(vendor: "b", limits: Self.limits, pending: stored)
        ledger.release(first)
        ledger.release(first)
        #expect(ledger.usage(of: "a").uploads == 1, "a second release of one ticket changes nothing")
        _ = try ledger.open(vendor: "a", limits: Self.limits, pending: stored)
    }

    @Test func bytesCountPublishedAndStagedAlike() throws {
        let ledger = UploadReservations()
        let stored = { (bytes: UInt64(300), count: 0) }
        let one = try ledger.open(vendor: "a", limits: Self.limits, pending: stored)
        let two = try ledger.open(vendor: "a", limits: Self.limits, pending: stored)
        #expect(try ledger.grow(one, to: 400, limits: Self.limits, pending: stored) == 400, "near the quota: exactly what was asked")
        #expect(try ledger.grow(one, to: 100, limits: Self.limits, pending: stored) == 400, "never shrinks")
        #expect(try ledger.grow(two, to: 300, limits: Self.limits, pending: stored) == 300)
        #expect(throws: UploadReservations.Refused.self) { try ledger.grow(two, to: 301, limits: Self.limits, pending: stored) }
        #expect(ledger.usage(of: "a") == UploadReservations.Usage(uploads: 2, bytes: 700))
        ledger.release(one)
        #expect(try ledger.grow(two, to: 700, limits: Self.limits, pending: stored) == 700)
        // Extreme numbers neither trap nor pass.
        #expect(throws: UploadReservations.Refused.self) { try ledger.grow(two, to: .max, limits: Self.limits, pending: { (bytes: .max, count: 0) }) }
        ledger.release(two)
        #expect(ledger.usage(of: "a") == UploadReservations.Usage())
    }

    @Test func farFromTheQuotaItReservesAhead() throws {
        let ledger = UploadReservations()
        let roomy = UploadReservations.Limits(maximumPending: 10, maximumBytes: 1 << 40, maximumFileSize: 1 << 36)
        let ticket = try ledger.open(vendor: "a", limits: roomy, pending: { (0, 0) })
        #expect(try ledger.grow(ticket, to: 32_768, limits: roomy, pending: { (0, 0) }) == 32_768 + UploadReservations.growthStep)
    }
}
