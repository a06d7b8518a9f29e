import CoreMetrics
import Foundation
import Prometheus

/// The drop box's metrics: every name and label value in one place, recorded
/// through swift-metrics into a Prometheus registry of this instance's own
/// (no process-wide bootstrap, so several servers in one test process keep
/// their figures apart). Labels take only the fixed values below: no vendor
/// names, addresses or transfer ids, so the number of series is bounded.
public final class DropBoxMetrics: Sendable {
    /// Why a login was refused.
    public enum LoginRefusal: String, CaseIterable, Sendable {
        /// No certificate verifies for the name (unknown, revoked, expired, not a vendor name).
        case certificate
        /// The certificate verifies but certifies another key.
        case keyMismatch = "key_mismatch"
        /// The source is over its failed-login limit.
        case tooManyFailures = "too_many_failures"
        /// Not an Ed25519 key.
        case keyType = "key_type"
        /// The acceptance could not be written to the log.
        case notRecorded = "not_recorded"
    }

    /// Why an upload was not published.
    public enum UploadRejection: String, CaseIterable, Sendable {
        /// Not a valid envelope (plaintext, truncated, bad signature, old format).
        case envelope
        /// The sender's or recipient's certificate did not verify at publish time.
        case certificate
        /// An envelope whose transfer id was already published by someone else.
        case replay
        /// A limit: file size, vendor quota, pending transfers.
        case limit
        /// The disk (or quota) is full.
        case outOfSpace = "out_of_space"
        /// Anything else (a server failure while checking).
        case other
    }

    /// The states a transfer enters, counted as it enters them on this node.
    public enum TransferState: String, CaseIterable, Sendable {
        case published, claimed, delivered, expired, revoked
    }

    /// Refusals as the receipt log records them (its event kinds): bounded by that enum.
    /// Refused logins and rejected uploads have counters of their own.
    public static let refusalKinds = ["refused-session", "refused-operation", "refused-authorization", "refused-open", "refused-claim"]

    public enum Name {
        public static let sessionsOpen = "sealdrop_sessions_open"
        public static let sessionsTotal = "sealdrop_sessions_total"
        public static let loginsAccepted = "sealdrop_logins_accepted_total"
        public static let loginsRefused = "sealdrop_logins_refused_total"
        public static let uploadsPublished = "sealdrop_uploads_published_total"
        public static let uploadsRejected = "sealdrop_uploads_rejected_total"
        public static let bytesReceived = "sealdrop_bytes_received_total"
        public static let bytesSent = "sealdrop_bytes_sent_total"
        public static let transfers = "sealdrop_transfers_total"
        public static let transfersPending = "sealdrop_transfers_pending"
        public static let refusals = "sealdrop_refusals_total"
        public static let claimLatency = "sealdrop_claim_latency_seconds"
        public static let deliveryLatency = "sealdrop_delivery_latency_seconds"
        public static let reaperRuns = "sealdrop_reaper_runs_total"
        public static let trustReloads = "sealdrop_trust_reloads_total"
    }

    /// The registry the expositions read.
    public let registry: PrometheusCollectorRegistry
    private let sessionsOpen: Meter
    private let sessionsTotal: CoreMetrics.Counter
    private let loginsAccepted: CoreMetrics.Counter
    private let loginsRefused: [LoginRefusal: CoreMetrics.Counter]
    private let uploadsPublished: CoreMetrics.Counter
    private let uploadsRejected: [UploadRejection: CoreMetrics.Counter]
    private let bytesReceived: CoreMetrics.Counter
    private let bytesSent: CoreMetrics.Counter
    private let transfers: [TransferState: CoreMetrics.Counter]
    private let transfersPending: CoreMetrics.Gauge
    private let refusals: [String: CoreMetrics.Counter]
    private let claimLatency: CoreMetrics.Timer
    private let deliveryLatency: CoreMetrics.Timer
    private let reaperRuns: CoreMetrics.Counter
    private let trustReloads: CoreMetrics.Counter

    /// Every series exists from the start (at zero), so a rate over a
    /// quiet period reads 0 rather than nothing.
    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // A transfer waits minutes to days for its recipient, not milliseconds.
        factory.durationHistogramBuckets[Name.deliveryLatency] = [
            .seconds(60), .seconds(600), .seconds(3600), .seconds(4 * 3600), .seconds(12 * 3600), .seconds(86_400), .seconds(3 * 86_400),
            .seconds(7 * 86_400), .seconds(14 * 86_400),
        ]
        self.registry = registry
        sessionsOpen = Meter(label: Name.sessionsOpen, factory: factory)
        sessionsTotal = CoreMetrics.Counter(label: Name.sessionsTotal, factory: factory)
        loginsAccepted = CoreMetrics.Counter(label: Name.loginsAccepted, factory: factory)
        loginsRefused = Self.counters(Name.loginsRefused, by: "reason", LoginRefusal.allCases, factory)
        uploadsPublished = CoreMetrics.Counter(label: Name.uploadsPublished, factory: factory)
        uploadsRejected = Self.counters(Name.uploadsRejected, by: "reason", UploadRejection.allCases, factory)
        bytesReceived = CoreMetrics.Counter(label: Name.bytesReceived, factory: factory)
        bytesSent = CoreMetrics.Counter(label: Name.bytesSent, factory: factory)
        transfers = Self.counters(Name.transfers, by: "state", TransferState.allCases, factory)
        transfersPending = CoreMetrics.Gauge(label: Name.transfersPending, factory: factory)
        refusals = Dictionary(
            uniqueKeysWithValues: Self.refusalKinds.map { ($0, CoreMetrics.Counter(label: Name.refusals, dimensions: [("kind", $0)], factory: factory)) })
        claimLatency = CoreMetrics.Timer(label: Name.claimLatency, factory: factory)
        deliveryLatency = CoreMetrics.Timer(label: Name.deliveryLatency, factory: factory)
        reaperRuns = CoreMetrics.Counter(label: Name.reaperRuns, factory: factory)
        trustReloads = CoreMetrics.Counter(label: Name.trustReloads, factory: factory)
    }

    /// One counter per value of a fixed label (bounded cardinality by construction).
    private static func counters<Value: RawRepresentable & Hashable>(
        _ label: String, by dimension: String, _ values: [Value], _ factory: PrometheusMetricsFactory
    ) -> [Value: CoreMetrics.Counter] where Value.RawValue == String {
        Dictionary(uniqueKeysWithValues: values.map { ($0, CoreMetrics.Counter(label: label, dimensions: [(dimension, $0.rawValue)], factory: factory)) })
    }

    /// A vendor's SFTP session began (after login and the per-vendor limit).
    public func sessionOpened() {
        sessionsOpen.increment()
        sessionsTotal.increment()
    }

    public func sessionClosed() {
        sessionsOpen.decrement()
    }

    public func loginAccepted() {
        loginsAccepted.increment()
    }

    public func loginRefused(_ reason: LoginRefusal) {
        loginsRefused[reason]?.increment()
    }

    public func uploadPublished() {
        uploadsPublished.increment()
        transfers[.published]?.increment()
    }

    public func uploadRejected(_ reason: UploadRejection) {
        uploadsRejected[reason]?.increment()
    }

    /// Upload bytes written to staging.
    public func received(bytes: Int) {
        bytesReceived.increment(by: Int64(bytes))
    }

    /// Download bytes recorded as served, just before they are sent.
    public func sent(bytes: Int) {
        bytesSent.increment(by: Int64(bytes))
    }

    /// `count` transfers entered `state` (a sweep may expire several at once).
    public func transfersEntered(_ state: TransferState, count: Int = 1) {
        guard count > 0 else { return }
        transfers[state]?.increment(by: Int64(count))
    }

    /// Transfers published and not yet ended (available or claimed), as the store counts them.
    public func pendingTransfers(_ count: Int) {
        transfersPending.record(count)
    }

    /// A refusal recorded in the receipt log, by its event kind; other kinds are not counted.
    public func refused(kind: String) {
        refusals[kind]?.increment()
    }

    /// A download claim was granted; the store took `duration` to grant it.
    public func claimGranted(after duration: Duration) {
        transfers[.claimed]?.increment()
        claimLatency.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// A transfer was delivered `seconds` after its upload.
    public func delivered(afterWaiting seconds: TimeInterval) {
        transfers[.delivered]?.increment()
        deliveryLatency.recordNanoseconds(Self.nanoseconds(.seconds(max(0, min(seconds, 1e9)))))
    }

    public func reaperRan() {
        reaperRuns.increment()
    }

    /// The trust files were parsed again (a change seen, or the maximum age reached).
    public func trustReloaded() {
        trustReloads.increment()
    }

    /// The Prometheus text exposition (format 0.0.4) of every series now.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : whole &+ attoseconds / 1_000_000_000
    }
}
