import Foundation
import SealdropFormat
import SealdropKeys
import SealdropMetrics
import SealdropStore
import SealdropTrust
import Synchronization

/// The drop box every session shares: configuration, metadata store, blob
/// files, the trust store, and the sweep that enforces expiry and settles
/// what crashed sessions left.
public final class DropBox: Sendable {
    public let configuration: DropBoxConfiguration
    let store: any TransferStore
    let blobs: BlobStore
    /// Uploads in flight across every session, for limits that hold (`UploadReservations`).
    let reservations = UploadReservations()
    let claimBudget = ClaimBudget()
    let log: @Sendable (String) -> Void
    /// Signs tree heads of the receipt log; made on first start.
    let receiptKey: VendorIdentity
    let trust: Mutex<TrustCache>
    let refusals: Mutex<RefusalBuffer>
    /// What the server counts, for the metrics file and listener.
    public let metrics: DropBoxMetrics

    /// Opens (or creates) the data directory. At start-up (`startingUp`, the
    /// server itself) the directory is made private (0700, files 0600) and
    /// this node's staging leftovers are removed. When no other process
    /// holds a node lock on the blob directory, claims whose every byte was
    /// served become deliveries and every orphan blob is removed; while one
    /// does (another node, `sftp-subsystem` sessions), only lapsed claims
    /// and orphans older than `orphanMinimumAge` are touched, as in the
    /// periodic sweep: that process may be about to commit them. Other
    /// claims are always left to their leases. A side tool reading the
    /// same directory while the server runs passes false.
    /// `store` is the metadata store when it is not the SQLite file in the
    /// data directory (a PostgreSQL store shared by several nodes).
    public init(
        configuration: DropBoxConfiguration, store: (any TransferStore)? = nil, log: @escaping @Sendable (String) -> Void = { _ in },
        startingUp: Bool = true, metrics: DropBoxMetrics = DropBoxMetrics()
    ) throws {
        self.configuration = configuration
        self.metrics = metrics
        self.log = log
        trust = Mutex(TrustCache())
        refusals = Mutex(RefusalBuffer())
        if startingUp { try PrivateDirectory.secure(configuration.dataDirectory, alsoOwn: configuration.trustFolderInsideData, log: log) }
        blobs = try BlobStore(configuration: configuration, startingUp: startingUp)
        self.store = try store ?? SQLiteTransferStore(path: configuration.databasePath, claimLease: configuration.claimLease)
        if let path = configuration.receiptKeyPath {
            // A cluster's key, given to every node: never made here.
            receiptKey = try VendorIdentity.load(path: path, passphrase: .none)
        } else {
            receiptKey = try ReceiptLog.loadOrCreateKey(in: configuration.dataDirectory, log: log)
        }
        guard startingUp else { return }
        // Files just created (the database, the receipt key) are private too.
        try PrivateDirectory.secure(configuration.dataDirectory, alsoOwn: configuration.trustFolderInsideData, log: log)
        let staging = blobs.cleanStaging()
        if staging > 0 { log("start-up: removed \(staging) unfinished uploads") }
        try sweep(now: Date(), startingUp: !blobs.otherNodesAreLive())
    }

    /// The trust store as it is now: parsed once, re-read when any of its
    /// files change (looked at every `trustCheckInterval`) or grow old. The highest
    /// revocation list number seen is kept in the data directory, so putting
    /// an older list back is refused. A trust store that no longer loads
    /// fails closed: nothing verifies until it is fixed.
    public func currentTrust(now: Date = Date()) throws -> TrustStore {
        try trust.withLock { cache throws -> TrustStore in
            if let store = cache.store, now.timeIntervalSince(cache.checkedAt) < configuration.trustCheckInterval,
                now.timeIntervalSince(cache.loadedAt) < configuration.trustMaximumAge
            {
                return store
            }
            let stamp = TrustCache.stamp(of: configuration.trustDirectory)
            if let store = cache.store, stamp == cache.stamp, now.timeIntervalSince(cache.loadedAt) < configuration.trustMaximumAge {
                cache.checkedAt = now
                return store
            }
            cache.store = nil
            let store = try loadTrust(now: now)
            for problem in store.diagnostics { log("trust store: \(problem)") }
            metrics.trustReloaded()
            cache = TrustCache(store: store, stamp: stamp, checkedAt: now, loadedAt: now, loads: cache.loads + 1)
            return store
        }
    }

    /// The trust files with the revocation-number floor: in the data
    /// directory, or in the shared database when nodes share one (so no
    /// node accepts a list older than one another node has seen).
    private func loadTrust(now: Date) throws -> TrustStore {
        guard let shared = store as? any SharedNodeState else {
            return try TrustStore.load(
                directory: configuration.trustDirectory, now: now, floorFile: configuration.dataDirectory + "/revocation-list-number")
        }
        let loaded = try TrustStore.load(directory: configuration.trustDirectory, now: now, revocationFloor: try shared.revocationFloor())
        if let number = loaded.revocations?.number { try shared.raiseRevocationFloor(to: number) }
        return loaded
    }

    /// Makes the next `currentTrust` look at the files at once (after the
    /// operator published a revocation, or from a test).
    public func refreshTrust() {
        trust.withLock { $0.checkedAt = .distantPast }
    }

    /// How many times the trust files were parsed (for tests and figures).
    public var trustLoads: Int { trust.withLock { $0.loads } }

    /// The name sessions have used since before the cache: the same store.
    func trustStore() throws -> TrustStore {
        try currentTrust()
    }

    /// Whether `vendor`'s certificate still verifies now and still holds the
    /// key it logged in with: sessions call it on every open of an inbox
    /// file and every publish, and the server ends sessions for which it
    /// turns false (revoked, expired, reissued with another key).
    public func isStillValid(vendor: VerifiedParty, now: Date = Date()) -> Bool {
        guard let party = try? currentTrust(now: now).party(named: vendor.name, for: .sender, now: now) else { return false }
        return party.key.fingerprint == vendor.key.fingerprint
    }

    /// Public-key login: `user` must name a vendor whose certificate verifies
    /// now and holds `key`. Refusals are recorded (aggregated per source);
    /// an acceptance only when `signed` (the client proved it holds the key),
    /// since an unsigned probe needs nothing but the public key. A login
    /// whose acceptance cannot be recorded is refused: no event without its
    /// log entry.
    public func authenticate(user: String, key: VendorPublicKey, sourceAddress: String, signed: Bool) -> VerifiedParty? {
        let now = Date()
        let party: VerifiedParty
        do {
            party = try currentTrust(now: now).party(named: try VendorName(user), for: .sender, now: now)
            guard party.key.fingerprint == key.fingerprint else {
                throw TrustError(.keyMismatch, "the key \(key.fingerprint) is not the one certified for \(user)")
            }
        } catch {
            recordRefusal(kind: .loginRefused, actor: VendorName.printableName(user), source: sourceAddress, detail: "\(error)", now: now)
            metrics.loginRefused((error as? TrustError)?.code == .keyMismatch ? .keyMismatch : .certificate)
            log("login refused for \(VendorName.printableName(user)) from \(sourceAddress): \(error)")
            return nil
        }
        guard signed else { return party }
        do {
            try recordOrFail(
                TransferEvent(time: now, kind: .loginAccepted, actor: party.name.value, sourceAddress: sourceAddress, detail: "key \(key.fingerprint)"))
        } catch {
            log("login refused for \(party.name) from \(sourceAddress): it could not be recorded (\(error))")
            metrics.loginRefused(.notRecorded)
            return nil
        }
        metrics.loginAccepted()
        return party
    }

    /// For the OpenSSH `Subsystem` mode, where sshd has already checked the
    /// key: the vendor's certificate must still verify now, and the session
    /// is recorded before it starts.
    public func subsystemVendor(_ user: String, sourceAddress: String) -> VerifiedParty? {
        let now = Date()
        do {
            let party = try currentTrust(now: now).party(named: try VendorName(user), for: .sender, now: now)
            try recordOrFail(TransferEvent(time: now, kind: .loginAccepted, actor: party.name.value, sourceAddress: sourceAddress, detail: "through sshd"))
            metrics.loginAccepted()
            return party
        } catch {
            recordRefusal(kind: .loginRefused, actor: VendorName.printableName(user), source: sourceAddress, detail: "\(error)", now: now)
            log("session refused for \(VendorName.printableName(user)): \(error)")
            return nil
        }
    }

    /// Records an event the caller's action depends on: when it throws, the
    /// caller must not go on (refuse the login, fail the request).
    public func recordOrFail(_ event: TransferEvent) throws(StoreError) {
        try store.record(event)
    }

    /// Records an event where a failure can only be reported (diagnostics,
    /// or a refusal that has already happened); the failure is logged.
    public func record(_ event: TransferEvent) {
        do {
            try store.record(event)
        } catch {
            log("cannot record \(event.kind.rawValue): \(error)")
        }
    }

    /// Every recorded event, for tests and the log export.
    public func events() throws -> [TransferEvent] {
        try store.events()
    }

    public func transfer(id: String) throws -> Transfer? {
        try store.transfer(id: id)
    }
}

/// The parsed trust store and what its files looked like when read.
struct TrustCache {
    var store: TrustStore?
    var stamp: [String] = []
    var checkedAt = Date.distantPast
    var loadedAt = Date.distantPast
    var loads = 0

    /// Name, size, modification time and inode of every file the parsed
    /// store holds: the CA, the revocation list, and each certificate filed
    /// under `vendors/` and `server/` (a certificate issued, replaced or
    /// removed changes it).
    static func stamp(of directory: String) -> [String] {
        var files = [TrustStore.caFile, TrustStore.revocationFile]
        for folder in [TrustStore.vendorsFolder, TrustStore.serverFolder] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + folder)) ?? []
            files += names.sorted().map { folder + "/" + $0 }
        }
        return files.map { name in
            var info = stat()
            guard stat(directory + "/" + name, &info) == 0 else { return name + " missing" }
            return "\(name) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ino)"
        }
    }
}

extension VendorName {
    /// A user-supplied name made safe for a log line.
    public static func printableName(_ text: String) -> String {
        String(text.unicodeScalars.prefix(64).map { ($0.value < 0x21 || $0.value > 0x7e) ? "?" : Character($0) })
    }
}
