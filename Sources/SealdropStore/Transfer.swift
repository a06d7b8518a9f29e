import Foundation
import SealdropLog

/// Where a transfer is in its life (README, "run the drop box"): `available → claimed →
/// delivered`, `available|claimed → expired`, `available → revoked`.
/// Rejected uploads never become transfers; they are recorded as events.
public enum TransferState: String, Sendable, Codable, CaseIterable {
    case available, claimed, delivered, expired, revoked

    /// States in which the blob still exists and the recipient may fetch it.
    public static let pending: [TransferState] = [.available, .claimed]
}

/// One published envelope waiting for, or given to, its recipient.
public struct Transfer: Sendable, Equatable {
    /// The envelope's transfer id, 32 hex digits: unique forever (replays are refused).
    public var id: String
    public var sender: String
    public var recipient: String
    public var state: TransferState
    /// Ciphertext bytes: the size of the blob and of the download.
    public var size: UInt64
    /// SHA-256 of the whole envelope, hex.
    public var ciphertextSHA256: String
    public var uploadedAt: Date
    public var expiresAt: Date
    /// The blob's file name under the data directory: random, never client-chosen.
    public var blob: String
    /// The handle that last joined the download claim, while `state == .claimed`
    /// (others of the same recipient may be open too).
    public var claimedBy: String?
    /// Byte ranges served to handles that were CLOSEd, merged: delivery
    /// needs all of `0..<size`. Ranges of open handles are kept per handle.
    public var served: ServedRanges
    /// When the transfer reached its final state.
    public var endedAt: Date?
    /// While claimed: the latest lease of its handles. A handle whose lease
    /// ran out ends, its ranges uncounted, when the recipient opens another.
    public var leaseExpiresAt: Date?

    public init(
        id: String, sender: String, recipient: String, state: TransferState = .available, size: UInt64,
        ciphertextSHA256: String, uploadedAt: Date, expiresAt: Date, blob: String,
        claimedBy: String? = nil, served: ServedRanges = ServedRanges(), endedAt: Date? = nil, leaseExpiresAt: Date? = nil
    ) {
        self.id = id
        self.sender = sender
        self.recipient = recipient
        self.state = state
        self.size = size
        self.ciphertextSHA256 = ciphertextSHA256
        self.uploadedAt = uploadedAt
        self.expiresAt = expiresAt
        self.blob = blob
        self.claimedBy = claimedBy
        self.served = served
        self.endedAt = endedAt
        self.leaseExpiresAt = leaseExpiresAt
    }

    /// True once every byte has been served to a CLOSEd handle.
    public var fullyServed: Bool { served.covers(size) }
}

/// A set of byte ranges, kept merged and sorted, so that out-of-order and
/// repeated reads (pipelined, resumed) add up to "every byte served".
public struct ServedRanges: Sendable, Equatable, Codable {
    /// Disjoint ranges the store keeps per transfer. Sequential and
    /// pipelined reads leave one or a handful (they merge as they fill in);
    /// more means a client scattering reads, and each recorded READ rewrites
    /// the list, so it is bounded to keep that write small (≈ 40 bytes a range).
    public static let maximumRanges = 1024

    public private(set) var ranges: [Range<UInt64>] = []

    public init(_ ranges: [Range<UInt64>] = []) {
        for range in ranges { insert(range) }
    }

    public mutating func insert(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        formUnion(ServedRanges(sorted: [range]))
    }

    /// Adds every range of `other` in one pass over both sorted lists:
    /// counting a handle's ranges at CLOSE costs the sum of their sizes, not
    /// a sort per range, however scattered a client made them.
    public mutating func formUnion(_ other: ServedRanges) {
        guard !other.ranges.isEmpty else { return }
        var merged = [Range<UInt64>]()
        merged.reserveCapacity(ranges.count + other.ranges.count)
        var mine = ranges.makeIterator()
        var theirs = other.ranges.makeIterator()
        var a = mine.next()
        var b = theirs.next()
        while a != nil || b != nil {
            let next: Range<UInt64>
            if let first = a, b == nil || first.lowerBound <= b!.lowerBound {
                next = first
                a = mine.next()
            } else {
                next = b!
                b = theirs.next()
            }
            // Touching ranges merge too, as reads that follow each other do.
            if let last = merged.last, next.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, next.upperBound)
            } else {
                merged.append(next)
            }
        }
        ranges = merged
    }

    /// Ranges already sorted, disjoint and not empty.
    private init(sorted: [Range<UInt64>]) {
        ranges = sorted
    }

    public func covers(_ size: UInt64) -> Bool {
        size == 0 || (ranges.count == 1 && ranges[0].lowerBound == 0 && ranges[0].upperBound >= size)
    }

    public var totalBytes: UInt64 { ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) } }
}

/// Something that happened, for the receipt log: facts, never secrets.
public struct TransferEvent: Sendable, Equatable {
    /// The receipt log owns the kinds: an event is one of them or is not recorded.
    public typealias Kind = LogEntry.Kind

    /// The kinds that record refusals: aggregated per source and window
    /// (`DropBox.recordRefusal`), so a flood costs one entry, not one per attempt.
    public static let refusalKinds: Set<Kind> = [
        .loginRefused, .refusedAuthorization, .refusedOperation, .refusedClaim, .refusedOpen, .refusedSession,
    ]

    public var sequence: Int64?
    public var time: Date
    public var kind: Kind
    /// The vendor (or user name offered) that acted.
    public var actor: String
    public var sourceAddress: String
    public var transferID: String?
    public var size: UInt64?
    public var ciphertextSHA256: String?
    /// For a published upload: when it must be gone.
    public var expiresAt: Date?
    /// For a published upload: the vendor it is for (set by the store from the transfer).
    public var recipient: String?
    /// For an aggregated refusal: how many refusals the entry stands for.
    public var count: Int64?
    public var detail: String

    public init(
        time: Date, kind: Kind, actor: String, sourceAddress: String, transferID: String? = nil,
        size: UInt64? = nil, ciphertextSHA256: String? = nil, expiresAt: Date? = nil, recipient: String? = nil, count: Int64? = nil,
        detail: String = ""
    ) {
        self.time = time
        self.kind = kind
        self.actor = actor
        self.sourceAddress = sourceAddress
        self.transferID = transferID
        self.size = size
        self.ciphertextSHA256 = ciphertextSHA256
        self.expiresAt = expiresAt
        self.recipient = recipient
        self.count = count
        self.detail = detail
    }

    /// The receipt-log entry this event becomes at `sequence`; its
    /// `encoded()` bytes are stored as written, never re-encoded.
    public func logEntry(sequence: Int64) -> LogEntry {
        LogEntry(
            sequence: sequence, time: LogEntry.milliseconds(time), kind: kind, actor: actor, source: sourceAddress, transfer: transferID,
            recipient: recipient, size: size, sha256: ciphertextSHA256, expires: expiresAt.map(LogEntry.milliseconds), count: count, detail: detail)
    }
}
