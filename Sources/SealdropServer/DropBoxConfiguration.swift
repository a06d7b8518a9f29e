import Foundation

/// What a drop box enforces. Every limit is named here with its reason;
/// `ops/sealdropd.conf` documents the same settings for operators.
public struct DropBoxConfiguration: Sendable {
    /// SQLite metadata and blob files live here.
    public var dataDirectory: String
    /// The trust store: CA, vendor certificates, revocation list.
    public var trustDirectory: String
    /// The receipt-signing key (`receipt-key`), shared by every node of a
    /// cluster; nil: `receipt_ed25519_key` in the data directory, made on first start.
    public var receiptKeyPath: String?
    /// Expiry granted when an envelope's request is out of policy in the
    /// short direction: 72 hours, three working days for the recipient.
    public var defaultExpiry: TimeInterval = 72 * 3600
    /// The longest a transfer may wait: 14 days, so an extract never rests
    /// on the server longer than a migration step takes.
    public var maximumExpiry: TimeInterval = 14 * 86_400
    /// The largest envelope accepted: 64 GiB covers any laboratory database.
    public var maximumFileSize: UInt64 = 64 << 30
    /// Bytes one vendor may have waiting at once.
    public var maximumStoredBytesPerVendor: UInt64 = 256 << 30
    /// Transfers one vendor may have waiting at once.
    public var maximumPendingPerVendor = 1000
    /// How often expired transfers are swept; a transfer never outlives
    /// its expiry by more than this.
    public var reaperInterval: TimeInterval = 60
    /// How long a download claim holds without its session renewing it
    /// (every served READ renews it). A session that died frees the
    /// transfer for a resume after this; 60 s outlasts any pause between
    /// two reads of a live client.
    public var claimLease: TimeInterval = 60
    /// How often, at most, the trust files' size and time are looked at for
    /// a change; a revocation takes effect within this.
    public var trustCheckInterval: TimeInterval = 2
    /// The parsed trust store is re-read at least this often even when its
    /// files did not change, so a CA or revocation list that runs out of
    /// date while we run is noticed.
    public var trustMaximumAge: TimeInterval = 60
    /// Refusals from one source of one kind are recorded once per window,
    /// the rest as one counted entry when the window closes.
    public var refusalWindow: TimeInterval = 10

    public init(dataDirectory: String, trustDirectory: String) {
        self.dataDirectory = dataDirectory
        self.trustDirectory = trustDirectory
    }

    /// Where `blobs/`, `staging/` and `nodes/` live (`blob-directory`):
    /// shared storage several nodes mount. nil: the data directory.
    public var blobRoot: String?
    /// This node's name among those sharing the blob directory (`node-id`):
    /// it stages uploads under `staging/NODE-ID/` and holds
    /// `nodes/NODE-ID.lock` while it runs. nil: one node, staging in
    /// `staging/` itself, lock `nodes/default.lock`.
    public var nodeID: String?

    public var databasePath: String { dataDirectory + "/metadata.sqlite" }
    public var blobDirectory: String { (blobRoot ?? dataDirectory) + "/blobs" }
    /// Every node's staging area is in here.
    public var stagingRoot: String { (blobRoot ?? dataDirectory) + "/staging" }
    /// This node's staging area: no other node writes or cleans it.
    public var stagingDirectory: String { nodeID.map { stagingRoot + "/" + $0 } ?? stagingRoot }
    /// One lock file per running node (and one shared by `sftp-subsystem` processes).
    public var nodesDirectory: String { (blobRoot ?? dataDirectory) + "/nodes" }
    /// The name of this node's lock in `nodesDirectory`.
    public var nodeLockName: String { (nodeID ?? "default") + ".lock" }
    /// The trust store's folder name when it sits directly in the data
    /// directory (`--data /srv/sealdrop --trust /srv/sealdrop/Certificates`).
    var trustFolderInsideData: Set<String> {
        let trust = URL(fileURLWithPath: trustDirectory).standardizedFileURL
        let data = URL(fileURLWithPath: dataDirectory).standardizedFileURL
        return trust.deletingLastPathComponent().path == data.path ? [trust.lastPathComponent] : []
    }
}
