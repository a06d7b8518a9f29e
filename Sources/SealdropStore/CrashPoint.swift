import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A test facility: the steps of a transfer's end at which a test can make
/// the server die, to prove that a crash between any two of them loses
/// nothing and leaves nothing (`LifecycleCrashTests`, `ops/threat-model.md`).
///
/// Inert unless the environment variable `SEALDROP_CRASH_AT` names a step
/// (for example `SEALDROP_CRASH_AT=deliver.committed`): then the process
/// sends itself SIGKILL the first time it reaches that step, exactly as a
/// power cut there would end it: no handler, no flush, no unwinding. The
/// variable is read once, at the first check; a production server never
/// has it set, and with it unset every check is one comparison with nil.
///
/// Every step is listed here, in the order a transfer's end passes them;
/// each is marked by one line in the code (`CrashPoint.X.reached()`).
public enum CrashPoint: String, CaseIterable, Sendable {
    /// Delivery: the state change and its entries written, not committed.
    case deliverInTransaction = "deliver.in-transaction"
    /// Delivery committed ("delivered" and "deleted" logged), blob not yet unlinked.
    case deliverCommitted = "deliver.committed"
    /// Blob unlinked, the client not yet told.
    case deliverUnlinked = "deliver.unlinked"
    case revokeInTransaction = "revoke.in-transaction"
    case revokeCommitted = "revoke.committed"
    case revokeUnlinked = "revoke.unlinked"
    /// Expiry by the sweep: every due transfer's change written, not committed.
    case expireInTransaction = "expire.in-transaction"
    case expireCommitted = "expire.committed"
    case expireUnlinked = "expire.unlinked"
    /// A rejected upload (any upload discarded): refused, its staging file
    /// still there, nothing logged.
    case rejectStaged = "reject.staged"
    /// The staging file removed, the rejection not yet logged.
    case rejectDiscarded = "reject.discarded"

    /// The environment variable that arms one step.
    public static let environmentVariable = "SEALDROP_CRASH_AT"

    /// The step armed for this process, if any.
    static let armed: CrashPoint? = ProcessInfo.processInfo.environment[environmentVariable].flatMap(CrashPoint.init(rawValue:))

    /// Dies here, by SIGKILL, if this step is armed and `condition` holds.
    public func reached(when condition: Bool = true) {
        guard let armed = Self.armed, armed == self, condition else { return }
        kill(getpid(), SIGKILL)
    }
}
