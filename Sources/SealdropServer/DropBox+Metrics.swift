import SealdropMetrics

extension DropBox {
    /// Reads what the metrics take from the store rather than count (the
    /// transfers pending now, whichever node published them); run before
    /// each exposition. A store that cannot answer leaves the last figure.
    public func refreshMetrics() {
        do {
            metrics.pendingTransfers(try store.pendingBlobs().count)
        } catch {
            log("metrics: cannot count pending transfers: \(error)")
        }
    }
}
