import Foundation
import Synchronization

/// Uploads in flight, per vendor, shared by every session of this server:
/// the pending-transfer cap, the byte quota and the uploads-in-flight limit
/// count staged uploads as well as published ones, and are checked and
/// taken under one lock, so parallel OPENs and WRITEs from several sessions
/// cannot together overshoot them.
///
/// A reservation is taken at OPEN (one transfer, no bytes), grows at WRITE
/// (to the upload's end, ahead by `growthStep` while the quota is far off),
/// and is released once the upload is published (the store counts it then)
/// or discarded.
final class UploadReservations: Sendable {
    /// Uploads one vendor may have open at once across all its sessions:
    /// four per session (`SessionRules.maximumUploadsPerSession`) times a few sessions.
    static let maximumInFlightPerVendor = 16
    /// Bytes reserved ahead of the writes, so a WRITE rarely asks for more:
    /// at 32 KiB per WRITE, one reservation per 256 writes.
    static let growthStep: UInt64 = 8 << 20

    /// What one vendor has reserved.
    struct Usage: Equatable {
        var uploads = 0
        var bytes: UInt64 = 0
    }

    /// The limits a reservation is checked against, and the store's pending usage.
    struct Limits {
        let maximumPending: Int
        let maximumBytes: UInt64
        let maximumFileSize: UInt64
    }

    private struct Ledger {
        var vendors: [String: Usage] = [:]
        var uploads: [UInt64: (vendor: String, bytes: UInt64)] = [:]
        var next: UInt64 = 1
    }

    private let ledger = Mutex(Ledger())

    /// A token for one upload's reservation.
    struct Ticket: Hashable, Sendable {
        fileprivate let number: UInt64
    }

    /// Why a reservation was refused; the message is for the vendor.
    struct Refused: Error, Equatable {
        let message: String
    }

    /// Reserves one upload for `vendor`. `pending` reads the store's pending
    /// usage; it is called under the lock, so no other reservation of this
    /// server can slip in between the check and the reservation.
    func open(vendor: String, limits: Limits, pending: () throws -> (bytes: UInt64, count: Int)) throws -> Ticket {
        try ledger.withLock { ledger throws -> Ticket in
            let mine = ledger.vendors[vendor] ?? Usage()
            guard mine.uploads < Self.maximumInFlightPerVendor else {
                throw Refused(message: "you already have \(mine.uploads) uploads in progress, the limit; finish one first")
            }
            let stored = try pending()
            guard stored.count + mine.uploads < limits.maximumPending else {
                throw Refused(
                    message:
                        "you already have \(stored.count) transfers waiting and \(mine.uploads) uploads in progress, the limit of \(limits.maximumPending); wait for deliveries or revoke some"
                )
            }
            let ticket = Ticket(number: ledger.next)
            ledger.next &+= 1
            ledger.uploads[ticket.number] = (vendor, 0)
            ledger.vendors[vendor, default: Usage()].uploads += 1
            return ticket
        }
    }

    /// Grows a reservation to cover `bytes` (and a step more when the quota
    /// allows), returning what it now covers; refuses beyond the quota.
    func grow(_ ticket: Ticket, to bytes: UInt64, limits: Limits, pending: () throws -> (bytes: UInt64, count: Int)) throws -> UInt64 {
        try ledger.withLock { ledger throws -> UInt64 in
            guard let upload = ledger.uploads[ticket.number] else { throw Refused(message: "this upload is no longer open") }
            if bytes <= upload.bytes { return upload.bytes }
            let mine = ledger.vendors[upload.vendor] ?? Usage()
            let stored = try pending()
            // Everything else this vendor holds: published, and staged by its other uploads.
            let (others, overflow) = stored.bytes.addingReportingOverflow(mine.bytes - upload.bytes)
            let room = overflow || others >= limits.maximumBytes ? 0 : limits.maximumBytes - others
            guard bytes <= room else {
                throw Refused(message: "the upload would exceed your quota of \(limits.maximumBytes) bytes waiting (published and uploading)")
            }
            // Ahead only while the quota is far off: near it, bytes held ahead
            // by one upload could refuse another whose bytes would fit.
            let farOff = room - bytes >= Self.growthStep * UInt64(Self.maximumInFlightPerVendor)
            let granted = farOff ? min(bytes + Self.growthStep, max(bytes, limits.maximumFileSize)) : bytes
            ledger.uploads[ticket.number] = (upload.vendor, granted)
            ledger.vendors[upload.vendor, default: Usage()].bytes += granted - upload.bytes
            return granted
        }
    }

    /// Ends a reservation (published, discarded, or never started).
    func release(_ ticket: Ticket) {
        ledger.withLock { ledger in
            guard let upload = ledger.uploads.removeValue(forKey: ticket.number) else { return }
            var usage = ledger.vendors[upload.vendor] ?? Usage()
            usage.uploads -= 1
            usage.bytes -= min(usage.bytes, upload.bytes)
            ledger.vendors[upload.vendor] = usage.uploads == 0 ? nil : usage
        }
    }

    /// What `vendor` has reserved now.
    func usage(of vendor: String) -> Usage {
        ledger.withLock { $0.vendors[vendor] ?? Usage() }
    }
}
