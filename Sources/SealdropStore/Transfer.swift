import Foundation

/// Where a transfer is in its life (DESIGN.md): `available → claimed →
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
    /// The session holding the download claim, while `state == .claimed`.
    public var claimedBy: String?
    /// Byte ranges served so far, merged; delivery needs all of `0..<size`.
    public var served: ServedRanges
    /// When the transfer reached its final state.
    public var endedAt: Date?
    /// While claimed: when the claim lapses unless its holder renews it.
    /// After that another session of the recipient may take it over and
    /// resume from `served`.
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

    /// True once every byte has been served at least once.
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
        var merged = range
        var kept = [Range<UInt64>]()
        for existing in ranges {
            if existing.upperBound < merged.lowerBound || existing.lowerBound > merged.upperBound {
                kept.append(existing)
            } else {
                merged = min(existing.lowerBound, merged.lowerBound)..<max(existing.upperBound, merged.upperBound)
            }
        }
        kept.append(merged)
        ranges = kept.sorted { $0.lowerBound < $1.lowerBound }
    }

    public func covers(_ size: UInt64) -> Bool {
        size == 0 || (ranges.count == 1 && ranges[0].lowerBound == 0 && ranges[0].upperBound >= size)
    }

    public var totalBytes: UInt64 { ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) } }
}

/// Something that happened, for the receipt log: facts, never secrets.
public struct TransferEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case loginAccepted = "login-accepted"
        case loginRefused = "login-refused"
        case uploadPublished = "upload-published"
        case uploadRejected = "upload-rejected"
        case claimed
        case released
        case delivered
        case deleted
        case expired
        case revoked
        case acknowledged
        case declared
        /// A request refused because it touched what is not the vendor's
        /// (another vendor's transfer, outbox or receipt).
        case refusedAuthorization = "refused-authorization"
        /// An operation the drop box never allows (rename, mkdir, shell...).
        case refusedOperation = "refused-operation"
        /// A download claim refused (held by another session, expired, gone).
        case refusedClaim = "refused-claim"
        /// An open refused by a limit: quota, pending cap, unknown outbox, handle caps.
        case refusedOpen = "refused-open"
        /// A connection or session refused by a limit: server full, per-vendor
        /// sessions, logins in progress, failed-login rate, server stopping.
        case refusedSession = "refused-session"
        /// A session the server ended: certificate revoked or expired, maximum lifetime.
        case sessionClosed = "session-closed"
        /// A blob no pending transfer names, removed by the start-up or periodic sweep.
        case orphanRemoved = "orphan-removed"
    }

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
    public var detail: String

    public init(
        time: Date, kind: Kind, actor: String, sourceAddress: String, transferID: String? = nil,
        size: UInt64? = nil, ciphertextSHA256: String? = nil, expiresAt: Date? = nil, detail: String = ""
    ) {
        self.time = time
        self.kind = kind
        self.actor = actor
        self.sourceAddress = sourceAddress
        self.transferID = transferID
        self.size = size
        self.ciphertextSHA256 = ciphertextSHA256
        self.expiresAt = expiresAt
        self.detail = detail
    }

    /// The bytes this event contributes to the receipt log: compact JSON
    /// with sorted keys, times in Unix milliseconds. Stored as written, so
    /// the log never depends on re-encoding.
    public func logEntry(sequence: Int64) -> [UInt8] {
        var fields: [String: Any] = [
            "sequence": sequence, "time": Int64((time.timeIntervalSince1970 * 1000).rounded()), "kind": kind.rawValue,
            "actor": actor, "source": sourceAddress, "detail": detail,
        ]
        if let transferID { fields["transfer"] = transferID }
        if let size { fields["size"] = size }
        if let ciphertextSHA256 { fields["sha256"] = ciphertextSHA256 }
        if let expiresAt { fields["expires"] = Int64((expiresAt.timeIntervalSince1970 * 1000).rounded()) }
        return [UInt8]((try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data())
    }
}
