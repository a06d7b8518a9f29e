import Foundation
import SealdropSFTP
import SealdropStore
import SealdropTrust

/// One vendor's SFTP session over the virtual tree: decoded requests in,
/// replies out. The transport (a libssh channel, or stdin/stdout as an
/// OpenSSH subsystem) only moves bytes. `SessionRules` decides every step
/// (consulting `SFTPOperationTable`), `SessionDriver` performs it; this
/// class runs the two in turn, with the clock.
public final class SFTPSession {
    /// Steps one request may take (a CLOSE of an upload takes four); more
    /// would be a loop in the rules, answered with a failure.
    static let maximumSteps = 16

    let dropBox: DropBox
    public let vendor: VerifiedParty
    private var rules: SessionRules
    let driver: SessionDriver
    private let clock: () -> Date
    /// When set, the vendor's certificate is checked again before a request
    /// once this long has passed since the last check: behind sshd no
    /// acceptor watches the session, so the session itself ends it.
    public var trustRecheckInterval: TimeInterval?
    private var trustCheckedAt: Date
    /// The session was ended (its vendor no longer verifies): the transport stops reading.
    public private(set) var isClosed = false

    public convenience init(dropBox: DropBox, vendor: VerifiedParty, sourceAddress: String) {
        self.init(dropBox: dropBox, vendor: vendor, sourceAddress: sourceAddress, clock: Date.init)
    }

    init(dropBox: DropBox, vendor: VerifiedParty, sourceAddress: String, clock: @escaping () -> Date) {
        self.dropBox = dropBox
        self.vendor = vendor
        self.clock = clock
        trustCheckedAt = clock()
        rules = SessionRules(vendor: vendor.name.value, key: vendor.key, startedAt: trustCheckedAt, claimLease: dropBox.configuration.claimLease)
        driver = SessionDriver(dropBox: dropBox, vendor: vendor, sourceAddress: sourceAddress)
    }

    deinit {
        end()
    }

    /// The replies to one request (usually one).
    public func handle(_ message: SFTPMessage) -> [SFTPMessage] {
        if let refused = closeIfRevoked(message) { return refused }
        let replies = decide(message)
        // Open downloads keep their claims while the client moves bytes.
        if SessionRules.movedBytes(message, replies) {
            for renewal in rules.dueRenewals(now: clock()) { _ = driver.perform(renewal) }
        }
        return replies
    }

    private func decide(_ message: SFTPMessage) -> [SFTPMessage] {
        let view = DropBoxSessionView(dropBox: dropBox, loggedIn: vendor)
        guard var action = rules.receive(message, now: clock(), view: view) else { return [] }
        for _ in 0..<Self.maximumSteps {
            switch action {
            case .reply(let reply):
                return [reply]
            case .refuse(let refusal):
                driver.recordRefusal(refusal.record)
                return [.status(id: refusal.id, code: refusal.code, message: refusal.message)]
            default:
                action = rules.resume(driver.perform(action), now: clock(), view: view)
            }
        }
        dropBox.log("\(vendor.name): request \(message.packetType) took more than \(Self.maximumSteps) steps")
        return message.requestID.map { [.status(id: $0, code: .failure, message: SessionRules.serverFailure)] } ?? []
    }

    /// Ends the session when its vendor's certificate no longer verifies
    /// (checked at most every `trustRecheckInterval`): the request is
    /// refused, the ending recorded, unfinished work dropped as at a disconnect.
    private func closeIfRevoked(_ message: SFTPMessage) -> [SFTPMessage]? {
        guard !isClosed else {
            return message.requestID.map { [.status(id: $0, code: .permissionDenied, message: Self.revokedMessage)] } ?? []
        }
        let now = clock()
        guard let interval = trustRecheckInterval, now.timeIntervalSince(trustCheckedAt) >= interval else { return nil }
        trustCheckedAt = now
        guard !dropBox.isStillValid(vendor: vendor, now: now) else { return nil }
        isClosed = true
        let reason = "the certificate of \(vendor.name) no longer verifies (revoked, expired or replaced)"
        dropBox.record(TransferEvent(time: now, kind: .sessionClosed, actor: vendor.name.value, sourceAddress: driver.sourceAddress, detail: reason))
        dropBox.log("ended the session of \(vendor.name): \(reason)")
        end()
        return message.requestID.map { [.status(id: $0, code: .permissionDenied, message: Self.revokedMessage)] } ?? []
    }

    static let revokedMessage = "your certificate no longer verifies; the session is closed"

    /// The answer to an undecodable packet, if it had a readable id.
    public func reply(to error: SFTPError) -> SFTPMessage? {
        error.requestID.map { .status(id: $0, code: .badMessage, message: error.message) }
    }

    /// Session over: unfinished uploads are discarded, open download handles
    /// end without CLOSE (what they served does not count towards delivery).
    public func end() {
        for action in rules.end() { _ = driver.perform(action) }
    }
}
