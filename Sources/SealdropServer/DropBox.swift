import Foundation
import SealdropFormat
import SealdropKeys
import SealdropStore
import SealdropTrust

/// The drop box every session shares: configuration, metadata store, blob
/// files, the trust store, and the reaper that enforces expiry.
public final class DropBox: Sendable {
    public let configuration: DropBoxConfiguration
    let store: any TransferStore
    let blobs: BlobStore
    /// Uploads in flight across every session, for limits that hold (`UploadReservations`).
    let reservations = UploadReservations()
    let log: @Sendable (String) -> Void
    /// Signs tree heads of the receipt log; made on first start.
    let receiptKey: VendorIdentity

    /// Opens (or creates) the data directory. At start-up (`startingUp`, the
    /// server itself) no session survives, so every claim is released and
    /// staging leftovers and stray blobs are removed; a side tool reading the
    /// same directory while the server runs passes false.
    public init(configuration: DropBoxConfiguration, log: @escaping @Sendable (String) -> Void = { _ in }, startingUp: Bool = true) throws {
        self.configuration = configuration
        self.log = log
        blobs = try BlobStore(configuration: configuration)
        store = try SQLiteTransferStore(path: configuration.databasePath)
        receiptKey = try ReceiptLog.loadOrCreateKey(in: configuration.dataDirectory, log: log)
        guard startingUp else { return }
        let released = try store.releaseAllClaims(now: Date())
        let cleaned = blobs.clean(keeping: try store.pendingBlobs())
        if released + cleaned.staging + cleaned.strays > 0 {
            log("start-up: released \(released) claims, removed \(cleaned.staging) unfinished uploads and \(cleaned.strays) stray blobs")
        }
    }

    /// The trust store as it is now (certificates and revocations can change
    /// while we run). The highest revocation list number seen is kept in the
    /// data directory, so putting an older list back is refused.
    func trustStore() throws -> TrustStore {
        try TrustStore.load(directory: configuration.trustDirectory, floorFile: configuration.dataDirectory + "/revocation-list-number")
    }

    /// Public-key login: `user` must name a vendor whose certificate verifies
    /// now and holds `key`. Refusals are recorded; an acceptance only when
    /// `signed` (the client proved it holds the key), since an unsigned probe
    /// needs nothing but the public key.
    public func authenticate(user: String, key: VendorPublicKey, sourceAddress: String, signed: Bool) -> VerifiedParty? {
        let now = Date()
        do {
            let party = try trustStore().party(named: try VendorName(user), for: .sender, now: now)
            guard party.key.fingerprint == key.fingerprint else {
                throw TrustError(.keyMismatch, "the key \(key.fingerprint) is not the one certified for \(user)")
            }
            if signed {
                record(TransferEvent(time: now, kind: .loginAccepted, actor: party.name.value, sourceAddress: sourceAddress, detail: "key \(key.fingerprint)"))
            }
            return party
        } catch {
            record(TransferEvent(time: now, kind: .loginRefused, actor: VendorName.printableName(user), sourceAddress: sourceAddress, detail: "\(error)"))
            log("login refused for \(VendorName.printableName(user)) from \(sourceAddress): \(error)")
            return nil
        }
    }

    /// For the OpenSSH `Subsystem` mode, where sshd has already checked the
    /// key: the vendor's certificate must still verify now.
    public func subsystemVendor(_ user: String, sourceAddress: String) -> VerifiedParty? {
        let now = Date()
        do {
            let party = try trustStore().party(named: try VendorName(user), for: .sender, now: now)
            record(TransferEvent(time: now, kind: .loginAccepted, actor: party.name.value, sourceAddress: sourceAddress, detail: "through sshd"))
            return party
        } catch {
            record(TransferEvent(time: now, kind: .loginRefused, actor: VendorName.printableName(user), sourceAddress: sourceAddress, detail: "\(error)"))
            log("session refused for \(VendorName.printableName(user)): \(error)")
            return nil
        }
    }

    /// Expires everything due and deletes its blob at once.
    @discardableResult
    public func reap(now: Date = Date()) -> Int {
        do {
            let expired = try store.expire(now: now)
            for transfer in expired {
                blobs.delete(transfer.blob)
                record(
                    TransferEvent(
                        time: now, kind: .deleted, actor: "server", sourceAddress: "", transferID: transfer.id,
                        size: transfer.size, ciphertextSHA256: transfer.ciphertextSHA256, detail: "expired"))
                log("expired and deleted transfer \(transfer.id)")
            }
            return expired.count
        } catch {
            log("reaper failed: \(error)")
            return 0
        }
    }

    /// Runs `reap` every `reaperInterval` on a background thread.
    public func startReaper() {
        let interval = configuration.reaperInterval
        Thread.detachNewThread { [self] in
            while true {
                Thread.sleep(forTimeInterval: interval)
                reap()
            }
        }
    }

    func record(_ event: TransferEvent) {
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

extension VendorName {
    /// A user-supplied name made safe for a log line.
    static func printableName(_ text: String) -> String {
        String(text.unicodeScalars.prefix(64).map { ($0.value < 0x21 || $0.value > 0x7e) ? "?" : Character($0) })
    }
}
