import Foundation
@testable import SealdropServer
import Testing

/// The claim budget counts only claims the store granted and refuses,
/// never admits untracked, once a vendor's table is full.
@Suite struct ClaimBudgetTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func refusedOpensUseUpNothing() {
        let budget = ClaimBudget()
        // Opens the store refused (ids that do not exist) are never counted...
        for index in 0..<(2 * ClaimBudget.maximumTrackedPerVendor) {
            #expect(budget.admits(vendor: "v", transferID: "missing-\(index)", now: Self.now))
        }
        // ...so the real transfer keeps its whole budget.
        for _ in 0..<ClaimBudget.claimsPerWindow {
            #expect(budget.admits(vendor: "v", transferID: "real", now: Self.now))
            budget.count(vendor: "v", transferID: "real", now: Self.now)
        }
        #expect(!budget.admits(vendor: "v", transferID: "real", now: Self.now))
        #expect(budget.admits(vendor: "v", transferID: "real", now: Self.now.addingTimeInterval(ClaimBudget.window)), "a new window")
    }

    @Test func aFullTableRefusesRatherThanAdmittingUntracked() {
        let budget = ClaimBudget()
        for index in 0..<ClaimBudget.maximumTrackedPerVendor {
            budget.count(vendor: "v", transferID: "t\(index)", now: Self.now)
        }
        // Looping on one more transfer: refused while every tracked window is open.
        #expect(!budget.admits(vendor: "v", transferID: "loop", now: Self.now.addingTimeInterval(1)))
        #expect(budget.admits(vendor: "v", transferID: "t0", now: Self.now.addingTimeInterval(1)), "a tracked transfer keeps its budget")
        #expect(budget.admits(vendor: "other", transferID: "loop", now: Self.now.addingTimeInterval(1)), "another vendor is not affected")
        // Once the windows close, they are dropped and the new one is tracked.
        let later = Self.now.addingTimeInterval(ClaimBudget.window + 1)
        #expect(budget.admits(vendor: "v", transferID: "loop", now: later))
        for _ in 0..<ClaimBudget.claimsPerWindow { budget.count(vendor: "v", transferID: "loop", now: later) }
        #expect(!budget.admits(vendor: "v", transferID: "loop", now: later))
    }
}
