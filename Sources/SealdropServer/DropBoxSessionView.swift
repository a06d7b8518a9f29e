import Foundation
import SealdropLog
import SealdropStore
import SealdropTrust

/// The drop box as a session's rules see it: the store, the trust store and
/// `/directory`, read-only.
struct DropBoxSessionView: SessionView {
    let dropBox: DropBox
    /// The vendor as it logged in: its certificate must still hold that key,
    /// so a session of a key since replaced under the same name loses access.
    let loggedIn: VerifiedParty

    var maximumFileSize: UInt64 { dropBox.configuration.maximumFileSize }

    func transfer(id: String) throws -> Transfer? { try dropBox.store.transfer(id: id) }
    func inbox(recipient: String) throws -> [Transfer] { try dropBox.store.inbox(recipient: recipient) }
    func sent(by sender: String) throws -> [Transfer] { try dropBox.store.sent(by: sender) }
    func involving(_ vendor: String) throws -> [Transfer] { try dropBox.store.involving(vendor) }

    func isStillValid(vendor: String, now: Date) -> Bool {
        vendor == loggedIn.name.value && dropBox.isStillValid(vendor: loggedIn, now: now)
    }

    func recipients(now: Date) -> [String] {
        guard let trust = try? dropBox.currentTrust(now: now) else { return [] }
        let verifier = trust.verifier(now: now)
        return trust.vendorCertificates().compactMap { try? verifier.verify($0, for: .recipient).name.value }.sorted()
    }

    func isRecipient(_ name: String, now: Date) -> Bool {
        guard let vendorName = try? VendorName(name), let trust = try? dropBox.currentTrust(now: now) else { return false }
        return (try? trust.party(named: vendorName, for: .recipient, now: now)) != nil
    }

    func directoryNames() -> [String] {
        let folder = dropBox.configuration.trustDirectory + "/vendors"
        let vendors = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".pem") }.sorted()
        return ["ca.pem", "revocations.crl"] + vendors
    }

    func directoryFile(_ name: String) -> (bytes: [UInt8], modified: Date)? {
        let trust = dropBox.configuration.trustDirectory
        let path: String
        if name == "ca.pem" || name == "revocations.crl" {
            path = trust + "/" + name
        } else {
            guard name.hasSuffix(".pem"), VendorName.problem(with: String(name.dropLast(4))) == nil else { return nil }
            path = trust + "/vendors/" + name
        }
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        return ([UInt8](data), modified ?? Date(timeIntervalSince1970: 0))
    }

    func receipt(for transferID: String, now: Date) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return [UInt8](try encoder.encode(try ReceiptLog(dropBox: dropBox).receipt(for: transferID, now: now)))
        } catch let error as TrustError where error.code == .unknownVendor {
            throw Refusal(
                .failure, "the drop box cannot sign receipts yet: its operator has not certified the receipt key", .serverError,
                transferID: transferID)
        }
    }

    func publishedHead(from: Int?, now: Date) throws -> [UInt8]? {
        let published: PublishedHead
        do {
            published = try ReceiptLog(dropBox: dropBox).publishedHead(from: from, now: now)
        } catch let error as TrustError where error.code == .unknownVendor {
            return nil
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return [UInt8](try encoder.encode(published))
    }
}
