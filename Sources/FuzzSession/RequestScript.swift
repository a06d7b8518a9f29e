import Foundation
import SealdropSFTP

@testable import SealdropServer

/// Reads a fuzz input as a session's requests. Each step starts with an
/// opcode byte; paths come from a table of the tree's interesting names
/// (the vendor's own transfers, the secret one, escapes) or raw bytes;
/// handles are ones the session returned, or raw bytes; uploads can write
/// pieces of envelopes that validate, so publishing is reached.
struct RequestScript {
    enum Step {
        case request(SFTPMessage)
        case advanceClock(TimeInterval)
        case sweep
    }

    private var bytes: [UInt8]
    private var index = 0
    private var nextID: UInt32 = 1
    private var handles: [[UInt8]] = []
    private let world: SessionWorld
    private let paths: [[UInt8]]

    init(_ bytes: [UInt8], world: SessionWorld) {
        self.bytes = bytes
        self.world = world
        let inbox = (try? world.dropBox.store.inbox(recipient: "oldvendor").map(\.id)) ?? []
        let sent = (try? world.dropBox.store.sent(by: "oldvendor").suffix(2).map(\.id)) ?? []
        let secret = world.secretID
        var names = [
            "/", "/inbox", "/outbox", "/sent", "/directory", "/receipts", "/outbox/newvendor", "/outbox/stranger", "/outbox/oldvendor",
            "/outbox/newvendor/extract.sealdrop", "/outbox/stranger/x", "/outbox/nobody/x", "/outbox/oldvendor/self",
            "/inbox/\(secret).sealdrop", "/sent/\(secret).sealdrop", "/receipts/\(secret).json", "/receipts/\(secret).ack",
            "/receipts/\(secret).declaration", "/inbox/../inbox/\(secret).sealdrop", "inbox/\(secret).sealdrop",
            "/directory/ca.pem", "/directory/revocations.crl", "/directory/newvendor.pem", "/directory/../../data/metadata.sqlite",
            "/receipts/head", "/receipts/consistency-1.json", "/receipts/consistency-3.json", "/../../etc/passwd", "/outbox/newvendor/../../inbox",
            ".", "", "/inbox/", "/outbox/newvendor/" + String(repeating: "n", count: 300),
        ]
        for id in inbox + sent {
            names += ["/inbox/\(id).sealdrop", "/sent/\(id).sealdrop", "/receipts/\(id).json", "/receipts/\(id).ack", "/receipts/\(id).declaration"]
        }
        paths = names.map { Array($0.utf8) }
    }

    private mutating func byte() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, index + count)
        defer { index = end }
        return Array(bytes[index..<end])
    }

    private mutating func number(_ width: Int) -> UInt64 {
        take(width).reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func id() -> UInt32 {
        defer { nextID &+= 1 }
        return nextID
    }

    private mutating func path() -> [UInt8] {
        let choice = Int(byte() ?? 0)
        if choice < 0xF0 { return paths[choice % paths.count] }
        return take(Int(byte() ?? 0) % 64)
    }

    private mutating func handle() -> [UInt8] {
        let choice = Int(byte() ?? 0)
        if choice < 0xF0, !handles.isEmpty { return handles[choice % handles.count] }
        return take(Int(byte() ?? 0) % 8)
    }

    /// Handles from replies become the script's to use.
    mutating func remember(_ replies: [SFTPMessage]) {
        for case .handle(_, let handle) in replies { handles.append(handle) }
    }

    mutating func next() -> Step? {
        guard let opcode = byte() else { return nil }
        switch opcode % 20 {
        case 0: return .request(.open(id: id(), path: path(), flags: .read, attributes: .empty))
        case 1: return .request(.open(id: id(), path: path(), flags: [.write, .create, .truncate], attributes: .empty))
        case 2: return .request(.open(id: id(), path: path(), flags: SFTPOpenFlags(rawValue: UInt32(number(1))), attributes: .empty))
        case 3: return .request(.close(id: id(), handle: handle()))
        case 4: return .request(.read(id: id(), handle: handle(), offset: number(3), length: UInt32(number(2))))
        case 5:
            let target = handle()
            return .request(.write(id: id(), handle: target, offset: number(3), data: take(Int(byte() ?? 0))))
        case 6:
            // A piece of an envelope that validates, at its own offset.
            let target = handle()
            let envelope = world.validUploads[Int(byte() ?? 0) % world.validUploads.count]
            let pieces = max(1, Int(byte() ?? 0) % 4 + 1)
            let piece = (envelope.count + pieces - 1) / pieces
            let which = Int(byte() ?? 0) % pieces
            let range = min(envelope.count, which * piece)..<min(envelope.count, (which + 1) * piece)
            return .request(.write(id: id(), handle: target, offset: UInt64(range.lowerBound), data: Array(envelope[range])))
        case 7:
            // A whole valid envelope in one write.
            let target = handle()
            return .request(.write(id: id(), handle: target, offset: 0, data: world.validUploads[Int(byte() ?? 0) % world.validUploads.count]))
        case 8: return .request(.opendir(id: id(), path: path()))
        case 9: return .request(.readdir(id: id(), handle: handle()))
        case 10: return .request(.stat(id: id(), path: path()))
        case 11: return .request(.lstat(id: id(), path: path()))
        case 12: return .request(.fstat(id: id(), handle: handle()))
        case 13: return .request(.remove(id: id(), path: path()))
        case 14: return .request(.realpath(id: id(), path: path()))
        case 15:
            switch (byte() ?? 0) % 6 {
            case 0: return .request(.rename(id: id(), from: path(), to: path()))
            case 1: return .request(.mkdir(id: id(), path: path(), attributes: .empty))
            case 2: return .request(.rmdir(id: id(), path: path()))
            case 3: return .request(.setstat(id: id(), path: path(), attributes: SFTPAttributes(size: number(2))))
            case 4: return .request(.fsetstat(id: id(), handle: handle(), attributes: .empty))
            default: return .request(.symlink(id: id(), linkPath: path(), targetPath: path()))
            }
        case 16: return .advanceClock(TimeInterval(number(1)) * 60)
        case 17: return .advanceClock(TimeInterval(number(2)) * 3600)
        case 18: return .sweep
        default:
            // A raw packet body: whatever decodes is handled.
            let body = take(Int(number(2)) % 512)
            guard let message = try? SFTPMessage.decode(body[...]) else { return next() }
            if case .handle = message { return next() }
            return .request(message)
        }
    }
}
