import Foundation
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropSFTP
import SealdropStore
import SealdropTrust

@testable import SealdropServer

/// The drop box every input of one fuzzing process runs against: a real CA,
/// three vendors, a real SQLite store and blob folder in a temporary
/// directory (removed at exit). `oldvendor` is the one logged in; a
/// transfer from `stranger` to `newvendor` is the secret it must never see.
final class SessionWorld {
    nonisolated(unsafe) static let shared = SessionWorld()

    let directory: String
    let authority: CertificateAuthority
    let keys: [String: VendorIdentity]
    let dropBox: DropBox
    let trust: TrustStore
    let vendor: VerifiedParty
    /// The secret transfer's id, its ciphertext past the header, and where
    /// each 8-byte prefix of a 32-byte window of it starts (for a fast scan).
    let secretID: String
    let secretBody: [UInt8]
    let secretWindows: [UInt64: [Int]]
    /// Envelopes from `oldvendor` that validate, and their SHA-256: nothing
    /// else may ever be published as sent by it.
    let validUploads: [[UInt8]]
    let validHashes: Set<String>
    /// Transfers already checked after an input.
    var checked = Set<String>()

    static let vendors = ["oldvendor", "newvendor", "stranger"]
    static let windowLength = 32

    private init() {
        let directory = NSTemporaryDirectory() + "sealdrop-fuzz-session-\(getpid())"
        worldDirectory = strdup(directory)
        atexit { removeWorld() }
        do {
            var authority = try CertificateAuthority.create(directory: directory + "/ca", name: "Fuzz CA", days: 30)
            var keys = [String: VendorIdentity]()
            for name in Self.vendors {
                let key = VendorIdentity.generate(comment: name)
                keys[name] = key
                _ = try authority.issue(name: try VendorName(name), subjectKey: key.publicKey, role: .vendor, days: 30)
            }
            var configuration = DropBoxConfiguration(dataDirectory: directory + "/data", trustDirectory: authority.trustDirectory)
            configuration.maximumPendingPerVendor = 1_000_000
            configuration.maximumStoredBytesPerVendor = 1 << 40
            let dropBox = try DropBox(configuration: configuration)
            // The receipt key certified, so heads and receipts are served.
            _ = try authority.issue(name: try VendorName("dropbox"), subjectKey: dropBox.receiptKey.publicKey, role: .server, days: 30)
            dropBox.refreshTrust()
            let trust = try TrustStore.load(directory: authority.trustDirectory)

            let secret = try Self.seal(keys: keys, trust: trust, from: "stranger", to: "newvendor", size: 70_000)
            secretID = try Self.upload(secret, dropBox: dropBox, as: try trust.party(named: try VendorName("stranger"), for: .sender), to: "newvendor")
            let body = Array(secret[1024..<(secret.count - 1024)])
            var windows = [UInt64: [Int]]()
            for start in 0...(body.count - Self.windowLength) { windows[prefix(body, at: start), default: []].append(start) }
            secretBody = body
            secretWindows = windows
            let uploads = try (0..<48).map { index in
                try Self.seal(keys: keys, trust: trust, from: "oldvendor", to: index % 3 == 0 ? "stranger" : "newvendor", size: 100 + index * 1500)
            }
            validUploads = uploads
            validHashes = Set(uploads.map { Hex.encode(Digest.sha256($0)) })
            vendor = try trust.party(named: try VendorName("oldvendor"), for: .sender)
            self.directory = directory
            self.authority = authority
            self.keys = keys
            self.dropBox = dropBox
            self.trust = trust
        } catch {
            fatalError("the fuzz drop box could not be set up: \(error)")
        }
    }

    static func seal(keys: [String: VendorIdentity], trust: TrustStore, from sender: String, to recipient: String, size: Int) throws -> [UInt8] {
        let me = try trust.party(named: try VendorName(sender), for: .sender)
        let them = try trust.party(named: try VendorName(recipient), for: .recipient)
        var source = MemorySource((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) })
        var sink = MemorySink()
        _ = try EnvelopeSealer.seal(
            from: &source, to: &sink, sender: keys[sender]!,
            request: SealRequest(
                recipient: them.key,
                parties: EnvelopeParties(senderCertificate: me.certificate.fingerprint, recipientCertificate: them.certificate.fingerprint),
                description: try FileDescription(fileName: "extract.csv"), expires: Date().addingTimeInterval(86_400)))
        return sink.bytes
    }

    /// Uploads `envelope` in one session of `party`; returns the new transfer's id.
    static func upload(_ envelope: [UInt8], dropBox: DropBox, as party: VerifiedParty, to recipient: String) throws -> String {
        let session = SFTPSession(dropBox: dropBox, vendor: party, sourceAddress: "fuzz-setup")
        _ = session.handle(.initialize(version: 3, extensions: []))
        let before = Set(try dropBox.store.sent(by: party.name.value).map(\.id))
        guard
            case .handle(_, let handle) = session.handle(
                .open(id: 1, path: Array("/outbox/\(recipient)/setup".utf8), flags: [.write, .create, .truncate], attributes: .empty)
            ).first
        else { throw FuzzSetupError(message: "the setup upload was refused") }
        _ = session.handle(.write(id: 2, handle: handle, offset: 0, data: envelope))
        guard case .status(_, .ok, _) = session.handle(.close(id: 3, handle: handle)).first,
            let id = try dropBox.store.sent(by: party.name.value).map(\.id).first(where: { !before.contains($0) })
        else { throw FuzzSetupError(message: "the setup upload was not published") }
        return id
    }

    /// Keeps one transfer waiting in `oldvendor`'s inbox, so downloads run.
    func refillInbox() {
        let waiting = try? dropBox.store.inbox(recipient: "oldvendor").contains(where: { $0.state == .available || $0.state == .claimed })
        guard waiting == false else { return }
        do {
            let envelope = try Self.seal(keys: keys, trust: trust, from: "newvendor", to: "oldvendor", size: 5000)
            _ = try Self.upload(envelope, dropBox: dropBox, as: try trust.party(named: try VendorName("newvendor"), for: .sender), to: "oldvendor")
        } catch {
            fatalError("could not refill the inbox: \(error)")
        }
    }
}

struct FuzzSetupError: Error {
    let message: String
}

/// The world's folder, for the exit handler (a C callback cannot capture).
nonisolated(unsafe) var worldDirectory: UnsafeMutablePointer<CChar>?

func removeWorld() {
    guard let worldDirectory else { return }
    try? FileManager.default.removeItem(atPath: String(cString: worldDirectory))
}

/// The 8 bytes at `start` as one number, to index windows without copying.
func prefix(_ bytes: [UInt8], at start: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in start..<start + 8 { value = value << 8 | UInt64(bytes[index]) }
    return value
}
