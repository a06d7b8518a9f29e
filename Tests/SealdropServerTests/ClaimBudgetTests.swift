import Foundation
@testable import SealdropServer
import Testing

/// The claim budget: a sliding window checked and counted in one step, so
/// neither a window boundary nor concurrent sessions let a vendor past it;
/// claims the store refused are given back; a full table refuses rather
/// than admitting untracked.
@Suite struct ClaimBudgetTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func refusedOpensUseUpNothing() throws {
        let budget = ClaimBudget()
        // Opens the store refused (ids that do not exist) are given back...
        for index in 0..<(2 * ClaimBudget.maximumTrackedPerVendor) {
            let taken = try #require(budget.reserve(vendor: "v", transferID: "missing-\(index)", now: Self.now))
            budget.refund(vendor: "v", transferID: "missing-\(index)", time: taken)
        }
        // ...so the real transfer keeps its whole budget.
        for _ in 0..<ClaimBudget.claimsPerWindow {
            #expect(budget.reserve(vendor: "v", transferID: "real", now: Self.now) != nil)
        }
        #expect(budget.reserve(vendor: "v", transferID: "real", now: Self.now) == nil)
        #expect(budget.reserve(vendor: "v", transferID: "real", now: Self.now.addingTimeInterval(ClaimBudget.window)) != nil, "a minute later")
    }

    @Test func theWindowSlidesSoNoBoundaryDoublesTheBudget() {
        // The attack pass: a burst at the end of one window, another at the
        // start of the next. A sliding window refuses the second burst.
        let budget = ClaimBudget()
        let lateInWindow = Self.now.addingTimeInterval(ClaimBudget.window - 1)
        var granted = 0
        for second in [0.0, 50, 59] {
            for _ in 0..<ClaimBudget.claimsPerWindow / 4 where budget.reserve(vendor: "v", transferID: "t", now: Self.now.addingTimeInterval(second)) != nil {
                granted += 1
            }
        }
        #expect(granted == 3 * (ClaimBudget.claimsPerWindow / 4))
        var burst = 0
        for _ in 0..<ClaimBudget.claimsPerWindow where budget.reserve(vendor: "v", transferID: "t", now: lateInWindow.addingTimeInterval(2)) != nil {
            burst += 1
        }
        // At now + 61 s the claims of second 0 have left the window; those of 50 and 59 have not.
        #expect(burst == ClaimBudget.claimsPerWindow - 2 * (ClaimBudget.claimsPerWindow / 4), "only what left the window comes back")
    }

    @Test func concurrentClaimsNeverExceedTheBudget() async {
        let budget = ClaimBudget()
        let granted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var mine = 0
                    for _ in 0..<50 where budget.reserve(vendor: "v", transferID: "t", now: Self.now) != nil { mine += 1 }
                    return mine
                }
            }
            return await group.reduce(0, +)
        }
        #expect(granted == ClaimBudget.claimsPerWindow, "400 concurrent claims, exactly the budget granted")
    }

    @Test func aFullTableRefusesRatherThanAdmittingUntracked() {
        let budget = ClaimBudget()
        for index in 0..<ClaimBudget.maximumTrackedPerVendor {
            _ = budget.reserve(vendor: "v", transferID: "t\(index)", now: Self.now)
        }
        // Looping on one more transfer: refused while every tracked transfer has a claim in the window.
        #expect(budget.reserve(vendor: "v", transferID: "loop", now: Self.now.addingTimeInterval(1)) == nil)
        #expect(budget.reserve(vendor: "v", transferID: "t0", now: Self.now.addingTimeInterval(1)) != nil, "a tracked transfer keeps its budget")
        #expect(budget.reserve(vendor: "other", transferID: "loop", now: Self.now.addingTimeInterval(1)) != nil, "another vendor is not affected")
        // Once the windows close, they are dropped and the new one is tracked.
        let later = Self.now.addingTimeInterval(ClaimBudget.window + 1)
        for _ in 0..<ClaimBudget.claimsPerWindow { #expect(budget.reserve(vendor: "v", transferID: "loop", now: later) != nil) }
        #expect(budget.reserve(vendor: "v", transferID: "loop", now: later) == nil)
    }
}
