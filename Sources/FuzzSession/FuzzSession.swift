import Foundation
import FuzzSupport
import SealdropCrypto
import SealdropFormat
import SealdropLayout
import SealdropSFTP
import SealdropStore

@testable import SealdropServer

// Fuzz target: the session decision step. Each input is one session of the
// vendor `oldvendor` against a real drop box (SessionWorld): the input is
// read as a sequence of requests (see `RequestScript`), each decided by
// `SessionRules` and carried out by `SessionDriver` through `SFTPSession`,
// with a clock the input can move forward.
//
// Properties besides "never traps":
// - nothing of the secret transfer (stranger to newvendor) reaches the
//   vendor: no DATA reply holds 32 bytes of its ciphertext, no NAME or DATA
//   reply its id, no OPEN or STAT of its paths succeeds;
// - no DATA reply holds the database or a private key file (paths outside
//   the vendor's view);
// - every transfer ever published as sent by `oldvendor` is one of the
//   envelopes that validate, and its blob holds exactly those bytes.
@main
enum FuzzSession {
    static func main() {
        // Set up before the first input, so that input's time and memory
        // are its own.
        _ = SessionWorld.shared
        fuzzMain(checkSession)
    }
}

func checkSession(_ bytes: [UInt8]) {
    let world = SessionWorld.shared
    world.refillInbox()
    let start = Date()
    var clockOffset: TimeInterval = 0
    let session = SFTPSession(dropBox: world.dropBox, vendor: world.vendor, sourceAddress: "fuzz", clock: { start.addingTimeInterval(clockOffset) })
    _ = session.handle(.initialize(version: 3, extensions: [SFTPExtensionPair(name: Array("attributes@sealdrop".utf8), data: Array("1".utf8))]))
    var script = RequestScript(bytes, world: world)
    var answered = (ok: 0, handles: 0, data: 0, refused: 0)
    while let step = script.next() {
        switch step {
        case .request(let message):
            let replies = session.handle(message)
            checkReplies(replies, to: message, world: world)
            script.remember(replies)
            for reply in replies {
                switch reply {
                case .status(_, .ok, _): answered.ok += 1
                case .status: answered.refused += 1
                case .handle: answered.handles += 1
                case .data: answered.data += 1
                default: break
                }
            }
        case .advanceClock(let seconds):
            clockOffset += seconds
        case .sweep:
            _ = try? world.dropBox.sweep(now: start.addingTimeInterval(clockOffset), startingUp: false)
        }
    }
    session.end()
    checkPublished(world)
    #if !FUZZING
        // Replaying files: say what each input reached, to judge seeds.
        let sent = (try? world.dropBox.store.sent(by: world.vendor.name.value).count) ?? 0
        print("ok \(answered.ok), handles \(answered.handles), data \(answered.data), refused \(answered.refused); \(sent) sent so far")
    #endif
}

/// The secret's paths in every spelling the layout resolves.
func isSecretPath(_ raw: [UInt8], _ world: SessionWorld) -> Bool {
    guard let path = VirtualPath.resolve(raw) else { return false }
    switch path {
    case .inboxFile(let id), .sentFile(let id), .receiptFile(let id), .acknowledgment(let id), .declaration(let id): return id == world.secretID
    default: return false
    }
}

func checkReplies(_ replies: [SFTPMessage], to request: SFTPMessage, world: SessionWorld) {
    let secretID = Array(world.secretID.utf8)
    for reply in replies {
        switch (request, reply) {
        case (.open(_, let path, _, _), .handle), (.stat(_, let path), .attributes), (.lstat(_, let path), .attributes),
            (.opendir(_, let path), .handle):
            if isSecretPath(path, world) { fatalError("\(request.packetType) of the secret transfer's path succeeded") }
        default: break
        }
        switch reply {
        case .data(_, let data):
            if contains(data, secretID) { fatalError("a DATA reply holds the secret transfer's id") }
            if holdsSecretWindow(data, world) { fatalError("a DATA reply holds the secret transfer's ciphertext") }
            for marker in forbiddenMarkers where contains(data, marker) {
                fatalError("a DATA reply holds a file outside the vendor's view (\(String(decoding: marker, as: UTF8.self)))")
            }
        case .name(_, let entries):
            for entry in entries where contains(entry.filename, secretID) || contains(entry.longname, secretID) {
                fatalError("a NAME reply lists the secret transfer")
            }
        default: break
        }
    }
}

/// Whether `data` holds 32 consecutive bytes of the secret's ciphertext:
/// an 8-byte prefix lookup at each offset, then a comparison on a hit.
func holdsSecretWindow(_ data: [UInt8], _ world: SessionWorld) -> Bool {
    let length = SessionWorld.windowLength
    guard data.count >= length else { return false }
    for start in 0...(data.count - length) {
        guard let offsets = world.secretWindows[prefix(data, at: start)] else { continue }
        for offset in offsets where data[start..<start + length].elementsEqual(world.secretBody[offset..<offset + length]) { return true }
    }
    return false
}

/// What only files outside the virtual tree hold: the SQLite database and
/// private keys (the receipt key, the CA key, the host key).
let forbiddenMarkers: [[UInt8]] = [Array("SQLite format 3".utf8), Array("PRIVATE KEY".utf8), Array("openssh-key-v1".utf8)]

func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    let first = needle[0]
    for start in 0...(haystack.count - needle.count) where haystack[start] == first {
        if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
    }
    return false
}

/// Every transfer published as sent by the vendor is a valid envelope, and
/// its blob (while it has one) holds exactly that envelope.
func checkPublished(_ world: SessionWorld) {
    guard let sent = try? world.dropBox.store.sent(by: world.vendor.name.value) else { fatalError("the store cannot list sent transfers") }
    for transfer in sent where !world.checked.contains(transfer.id) {
        world.checked.insert(transfer.id)
        guard world.validHashes.contains(transfer.ciphertextSHA256) else {
            fatalError("transfer \(transfer.id) was published but is not an envelope that validates")
        }
        if transfer.state == .available || transfer.state == .claimed {
            let path = world.dropBox.configuration.blobDirectory + "/" + transfer.blob
            guard let blob = FileManager.default.contents(atPath: path), Hex.encode(Digest.sha256([UInt8](blob))) == transfer.ciphertextSHA256 else {
                fatalError("transfer \(transfer.id)'s blob does not hold the envelope that was published")
            }
        }
    }
}
