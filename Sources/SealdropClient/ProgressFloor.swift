import SealdropSSH

/// The slowest a download may go: at least `bytes` within every `seconds`.
/// Each answer already arrives within the timeout and each block in few
/// pieces, yet a drop box could still answer a few KiB just inside every
/// timeout and stretch a download over days; this bounds the whole.
struct ProgressFloor {
    let bytes: UInt64
    let seconds: Double
    private var mark: UInt64
    private var since = ContinuousClock.now

    init(bytes: UInt64, seconds: Double, from start: UInt64) {
        self.bytes = bytes
        self.seconds = seconds
        mark = start
    }

    /// Called after each answer with the bytes written so far.
    /// `what` names the file in the message ("transfer ID", a path).
    mutating func check(_ written: UInt64, of what: String) throws(SSHError) {
        let now = ContinuousClock.now
        if written - mark >= bytes {
            mark = written
            since = now
        } else if now - since > .milliseconds(Int64(seconds * 1000)) {
            throw SSHError(
                .timedOut,
                "the drop box sent less than \(bytes) bytes of \(what) in \(Int(seconds)) s; a download that slow was given up"
            )
        }
    }
}
