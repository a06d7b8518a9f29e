import Foundation
import Synchronization

/// Rewrites the metrics file every `interval` on a thread of its own, and
/// once more at `stop` (a graceful stop), so the last figures are on disk.
/// `refresh` runs before each write, for gauges read from elsewhere (the
/// store's pending transfers).
public final class MetricsPublisher: Sendable {
    let metrics: DropBoxMetrics
    public let file: MetricsTextfile
    public let interval: TimeInterval
    let refresh: @Sendable () -> Void
    let log: @Sendable (String) -> Void
    private let state = Mutex(State())

    struct State {
        var stopped = false
        /// The last error logged, so a full disk is not logged every few seconds.
        var lastError: String?
    }

    public init(
        metrics: DropBoxMetrics, file: MetricsTextfile, interval: TimeInterval, refresh: @escaping @Sendable () -> Void = {},
        log: @escaping @Sendable (String) -> Void
    ) {
        self.metrics = metrics
        self.file = file
        self.interval = interval
        self.refresh = refresh
        self.log = log
    }

    /// Writes once now, then every `interval` until `stop`. A first write
    /// that fails (no such folder, no permission) throws: a path that cannot
    /// work is a configuration error, found at start. Later failures (a
    /// full disk) are logged and retried.
    public func start() throws(MetricsFileError) {
        try state.withLock { (_: inout State) throws(MetricsFileError) in
            refresh()
            try file.write(metrics.exposition())
        }
        Thread.detachNewThread { [self] in
            while !state.withLock({ $0.stopped }) {
                Thread.sleep(forTimeInterval: interval)
                if state.withLock({ $0.stopped }) { return }
                publish()
            }
        }
    }

    /// No more periodic writes; the figures as they are now are written.
    public func stop() {
        state.withLock { $0.stopped = true }
        publish()
    }

    /// One write (never two at once: they share the temporary name); a
    /// failure is logged once until it changes or clears.
    public func publish() {
        let failure = state.withLock { state -> String? in
            refresh()
            do throws(MetricsFileError) {
                try file.write(metrics.exposition())
                state.lastError = nil
                return nil
            } catch {
                defer { state.lastError = error.message }
                return state.lastError == error.message ? nil : error.message
            }
        }
        if let failure { log("cannot write the metrics file: \(failure)") }
    }
}
