import Foundation
import SealdropClient
import SealdropIO
import SealdropSFTP
import SealdropSSH
import Testing
import TestSupport

/// A counter the scripted server bumps from its own thread.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var seen = 0

    func bump() { lock.withLock { seen += 1 } }
    var count: Int { lock.withLock { seen } }
}

/// The single download against a drop box that lies about sizes, answers
/// out of order, dribbles, or withholds: memory, disk and time stay
/// bounded, and nothing the client already holds is destroyed.
@Suite struct HostileDownloadTests {
    let id = String(repeating: "3c", count: 16)
    var path: String { "/inbox/\(id).sealdrop" }

    /// A fixture whose inbox offers `id` with the claimed `size`; READs go
    /// to `answer` (offset, length) → reply data, or nil to say nothing.
    func fixture(size: UInt64, reads: RequestCounter, answer: @escaping (UInt64, UInt32) -> [UInt8]?) throws -> HostileFixture {
        let fixture = try HostileFixture()
        fixture.server.files[path] = []
        fixture.server.stats[path] = SFTPAttributes(size: size)
        fixture.server.override = { message in
            guard case .read(let request, _, let offset, let length) = message else { return nil }
            reads.bump()
            guard let data = answer(offset, length) else { return .reply([]) }
            return .reply([.data(id: request, data: data)])
        }
        return fixture
    }

    func download(_ fixture: HostileFixture, part: String = ".x.part", maximumSize: UInt64 = DropBoxClient.defaultMaximumDownloadSize) throws {
        // A fresh client each time, with a short timeout.
        let folder = try OutputDirectory(path: fixture.directory.path)
        try fixture.client(timeout: 2).download(
            id, into: folder, part: part, journal: try ReceivedJournal(file: fixture.directory.file("journal")), maximumSize: maximumSize)
    }

    func expectCode(_ code: DropBoxError.Code, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected a \(code) error", sourceLocation: sourceLocation)
        } catch let error as DropBoxError {
            #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
            #expect(isTerminalSafe(error.message), sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected a \(code) error, got \(error)", sourceLocation: sourceLocation)
        }
    }

    /// The drop box never answers the first block but answers every other
    /// one at once: the client must not keep asking (and holding) the rest
    /// of a file it cannot write yet, but wait for that block and give up.
    @Test func aWithheldFirstBlockDoesNotMakeTheClientBufferTheFile() throws {
        let reads = RequestCounter()
        let fixture = try fixture(size: 256 << 20, reads: reads) { offset, length in
            offset == 0 ? nil : [UInt8](repeating: 0x41, count: Int(length))
        }
        do {
            try download(fixture)
            Issue.record("the download returned")
        } catch let error as SSHError {
            #expect(error.code == .timedOut, "\(error.message)")
        }
        print("a withheld first block: \(reads.count) READs asked before giving up")
        #expect(reads.count <= SFTPClient.transferPipelineDepth + 1, "asked \(reads.count) blocks ahead of the one withheld")
        #expect(try fixture.directory.read(".x.part").isEmpty)
    }

    /// One byte per answer: every short read is asked again, so a drop box
    /// could make a download take a round trip per byte. A block split
    /// into more pieces than the limit is refused.
    @Test func aDropBoxThatDribblesOneByteAtATimeIsRefused() throws {
        let reads = RequestCounter()
        let fixture = try fixture(size: 4 << 20, reads: reads) { _, _ in
            reads.count > 5000 ? nil : [0x41]
        }
        expectCode(.protocolViolation) { try download(fixture) }
        print("a dribbling drop box: refused after \(reads.count) READs")
        #expect(reads.count <= SFTPClient.transferPipelineDepth * SFTPClient.maximumPiecesPerBlock)
    }

    /// Answers just inside every rule (each within the timeout, 8 KiB
    /// each, so 8 pieces a block) yet a block takes four timeouts: the
    /// download must advance by a whole block within each timeout.
    @Test func aDownloadThatCrawlsIsGivenUpOn() throws {
        let reads = RequestCounter()
        let fixture = try fixture(size: 1 << 20, reads: reads) { _, length in
            guard reads.count <= 40 else { return nil }
            usleep(500_000)
            return [UInt8](repeating: 0x43, count: min(Int(length), 8 << 10))
        }
        let started = Date()
        do {
            try fixture.client(timeout: 1).download(
                id, into: try OutputDirectory(path: fixture.directory.path), part: ".x.part",
                journal: try ReceivedJournal(file: fixture.directory.file("journal")))
            Issue.record("the download returned")
        } catch let error as SSHError {
            #expect(error.code == .timedOut, "\(error.message)")
            #expect(error.message.contains("less than 65536 bytes of transfer \(id) in 1 s"), "\(error.message)")
        }
        print("a crawling download (8 KiB every 0.5 s, timeout 1 s) was given up after \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// A drop box that claims 2^64−1 bytes (to fill the disk) is refused
    /// before a single READ, and no part file is made.
    @Test func aClaimedSizeAboveTheLimitIsRefusedBeforeDownloading() throws {
        let reads = RequestCounter()
        let fixture = try fixture(size: .max, reads: reads) { _, length in [UInt8](repeating: 0, count: Int(length)) }
        expectCode(.tooLarge) { try download(fixture) }
        expectCode(.tooLarge) { try download(fixture, maximumSize: 1 << 20) }
        #expect(reads.count == 0)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file(".x.part")))
    }

    /// Within the limit but beyond the free space of the folder: refused
    /// before downloading, not after the disk is full.
    @Test func aClaimedSizeAboveTheFreeSpaceIsRefusedBeforeDownloading() throws {
        let reads = RequestCounter()
        let fixture = try fixture(size: 1 << 62, reads: reads) { _, length in [UInt8](repeating: 0, count: Int(length)) }
        do {
            try download(fixture, maximumSize: .max)
            Issue.record("the download returned")
        } catch let error as DropBoxError {
            #expect(error.code == .localState, "\(error.message)")
            #expect(error.message.contains("free"), "\(error.message)")
        }
        #expect(reads.count == 0)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file(".x.part")))
    }

    /// A part file holding the start of another transfer (an earlier
    /// `receive OTHER -o same-name`) is not resumed as this one: resuming
    /// would splice two envelopes and consume this transfer for nothing.
    @Test func aPartFileOfAnotherTransferIsNotResumed() throws {
        let fixture = try HostileFixture()
        let (other, _) = try fixture.seal(Fixtures.bytes(200_000, seed: 2))
        let (envelope, id) = try fixture.seal(Fixtures.bytes(200_000, seed: 3))
        fixture.offer(envelope, as: id)
        let started = Array(other.prefix(100_000))
        _ = try fixture.directory.write(started, to: ".x.part")
        try setMode(fixture.directory.file(".x.part"), 0o600)
        let folder = try OutputDirectory(path: fixture.directory.path)
        let opened = fixture.server.openedPaths.count
        expectCode(.localState) {
            try fixture.client().download(id, into: folder, part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        }
        #expect(fixture.server.openedPaths.count == opened, "the transfer was not opened (nor claimed)")
        #expect(try fixture.directory.read(".x.part") == started, "the other transfer's part is kept")
        // The same transfer's own part file resumes.
        _ = try fixture.directory.write(Array(envelope.prefix(70_000)), to: ".y.part")
        try setMode(fixture.directory.file(".y.part"), 0o600)
        try fixture.client().download(id, into: folder, part: ".y.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        #expect(try fixture.directory.read(".y.part") == envelope)
    }

    /// A drop box that now claims fewer bytes than were downloaded before
    /// does not make the client throw the downloaded bytes away.
    @Test func aShrunkenSizeDoesNotDestroyThePartFile() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(200_000, seed: 5))
        fixture.offer(envelope, as: id)
        _ = try fixture.directory.write(envelope, to: ".x.part")
        try setMode(fixture.directory.file(".x.part"), 0o600)
        fixture.server.stats["/inbox/\(id).sealdrop"] = SFTPAttributes(size: 1000)
        let folder = try OutputDirectory(path: fixture.directory.path)
        expectCode(.protocolViolation) {
            try fixture.client().download(id, into: folder, part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        }
        #expect(try fixture.directory.read(".x.part") == envelope)
    }

    /// The drop box says the transfer is gone while a part file sits there:
    /// it is opened as an earlier download only if it is privately yours.
    @Test func aPlantedPartFileIsNotTakenForAnEarlierDownload() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(10_000, seed: 14))
        _ = try fixture.directory.write(envelope, to: ".x.part")
        try setMode(fixture.directory.file(".x.part"), 0o644)
        let folder = try OutputDirectory(path: fixture.directory.path)
        let journal = try ReceivedJournal(file: fixture.directory.file("journal"))
        var events: [String] = []
        expectCode(.notFound) {
            try fixture.client().download(id, into: folder, part: ".x.part", journal: journal) { events.append("\($0)") }
        }
        try setMode(fixture.directory.file(".x.part"), 0o600)
        try fixture.client().download(id, into: folder, part: ".x.part", journal: journal) { events.append("\($0)") }
        #expect(events == ["alreadyDelivered"])
    }

    /// A part file that others can read or write, or that another user
    /// owns (planted in a shared folder), is neither resumed nor written.
    @Test func aPartFileOthersCanTouchIsRefused() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(100_000, seed: 6))
        fixture.offer(envelope, as: id)
        let planted = Array(envelope.prefix(1000))
        _ = try fixture.directory.write(planted, to: ".x.part")
        try setMode(fixture.directory.file(".x.part"), 0o666)
        let folder = try OutputDirectory(path: fixture.directory.path)
        #expect(throws: IOError.self) {
            try fixture.client().download(id, into: folder, part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        }
        #expect(try fixture.directory.read(".x.part") == planted)
        if geteuid() == 0 {
            try setMode(fixture.directory.file(".x.part"), 0o600)
            #expect(chown(fixture.directory.file(".x.part"), 65534, 65534) == 0)
            #expect(throws: IOError.self) {
                try fixture.client().download(id, into: folder, part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
            }
            #expect(try fixture.directory.read(".x.part") == planted)
        }
    }

    /// A folder anyone may rename files in (writable by others, no sticky
    /// bit) is refused: someone could swap the part file or the output.
    /// A sticky shared folder such as /tmp is fine.
    @Test func aFolderOthersCanRenameInIsRefused() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(10_000, seed: 7))
        fixture.offer(envelope, as: id)
        let shared = fixture.directory.file("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        try setMode(shared, 0o777)
        expectCode(.localState) {
            try fixture.client().download(
                id, into: try OutputDirectory(path: shared), part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty)
        try setMode(shared, 0o1777)
        try fixture.client().download(
            id, into: try OutputDirectory(path: shared), part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        #expect(FileManager.default.contents(atPath: shared + "/.x.part").map { [UInt8]($0) } == envelope)
    }

    /// Small files (certificates, lists, receipts) are read whole: one byte
    /// per answer is refused there too, not read for hours.
    @Test func aDirectoryFileDribbledOneByteAtATimeIsRefused() throws {
        let fixture = try HostileFixture()
        let reads = RequestCounter()
        fixture.server.override = { message in
            guard case .read(let request, _, let offset, _) = message else { return nil }
            reads.bump()
            return .reply([reads.count > 5000 ? .status(id: request, code: .eof, message: "") : .data(id: request, data: [UInt8(offset % 256)])])
        }
        expectCode(.protocolViolation) { _ = try fixture.trustStore(try fixture.client()) }
        print("a dribbled revocation list: refused after \(reads.count) READs")
        #expect(reads.count <= SFTPClient.maximumPiecesPerBlock)
    }

    /// A directory listing hundreds of vendors, each "certificate" 60 KiB
    /// (within the per-file limit; a real one is under 1 KiB): together
    /// they are refused once past the total limit, not all held.
    @Test func aDirectoryOfManyLargeCertificatesIsCutOff() throws {
        let fixture = try HostileFixture()
        let junk = [UInt8](repeating: 0x41, count: 60 << 10)
        var entries = [MaliciousServer.entry("ca.pem"), MaliciousServer.entry("revocations.crl")]
        for index in 0..<300 {
            let name = "vendor\(index)"
            fixture.server.files["/directory/\(name).pem"] = junk
            entries.append(MaliciousServer.entry("\(name).pem"))
        }
        fixture.server.listings["/directory"] = entries
        expectCode(.tooLarge) { _ = try fixture.trustStore(try fixture.client()) }
        let kibibytes = fixture.server.openedPaths.filter { $0.hasPrefix("/directory/vendor") }.count * 60
        print("a directory of 300 certificates of 60 KiB: \(kibibytes) KiB read before refusing")
        #expect(kibibytes <= (DropBoxClient.maximumDirectoryBytes >> 10) + 60)
        // One certificate over its own limit is refused at once.
        fixture.server.files["/directory/vendor0.pem"] = [UInt8](repeating: 0x41, count: DropBoxClient.maximumCertificateSize + 1)
        fixture.server.listings["/directory"] = Array(entries.prefix(3))
        expectCode(.tooLarge) { _ = try fixture.trustStore(try fixture.client()) }
    }

    /// The same crawl on a small file read whole (a revocation list, a
    /// receipt): given up once a block takes longer than the timeout.
    @Test func aDirectoryFileThatCrawlsIsGivenUpOn() throws {
        let fixture = try HostileFixture()
        let reads = RequestCounter()
        fixture.server.files["/directory/revocations.crl"] = [UInt8](repeating: 0x30, count: 512 << 10)
        fixture.server.override = { message in
            guard case .read(let request, let handle, let offset, _) = message, handle.starts(with: Array("f/directory/revocations".utf8)) else {
                return nil
            }
            reads.bump()
            guard reads.count <= 40 else { return .stall }
            usleep(500_000)
            return .reply([.data(id: request, data: [UInt8](repeating: UInt8(offset % 200), count: 8 << 10))])
        }
        do {
            _ = try fixture.trustStore(try fixture.client(timeout: 1))
            Issue.record("the trust store was built")
        } catch let error as SSHError {
            #expect(error.code == .timedOut, "\(error.message)")
            #expect(error.message.contains("less than 65536 bytes of /directory/revocations.crl in 1 s"), "\(error.message)")
        }
    }

    /// A listing that never ends, one name every half second: each answer
    /// on time, yet 10,000 names would take hours. Held to the same floor.
    @Test func aListingThatCrawlsIsGivenUpOn() throws {
        let fixture = try HostileFixture()
        let reads = RequestCounter()
        fixture.server.override = { message in
            guard case .readdir(let request, _) = message else { return nil }
            reads.bump()
            guard reads.count <= 40 else { return .stall }
            usleep(500_000)
            return .reply([.name(id: request, entries: [MaliciousServer.entry(String(format: "%032x", reads.count) + ".sealdrop")])])
        }
        fixture.server.listings["/inbox"] = []
        do {
            _ = try fixture.client(timeout: 1).inbox()
            Issue.record("the listing returned")
        } catch let error as SSHError {
            #expect(error.code == .timedOut, "\(error.message)")
            #expect(error.message.contains("less than 65536 bytes of the listing of /inbox in 1 s"), "\(error.message)")
        }
    }

    /// Two runs receiving into the same part file at once (or a second
    /// run while the first still downloads) would interleave their bytes:
    /// the second is refused while the first holds the file.
    @Test func aPartFileInUseByAnotherRunIsRefused() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(10_000, seed: 9))
        fixture.offer(envelope, as: id)
        let held = open(fixture.directory.file(".x.part"), O_RDWR | O_CREAT, 0o600)
        defer { close(held) }
        #expect(flock(held, LOCK_EX | LOCK_NB) == 0)
        let folder = try OutputDirectory(path: fixture.directory.path)
        expectCode(.localState) {
            try fixture.client().download(id, into: folder, part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        }
        #expect(!fixture.server.openedPaths.contains("/inbox/\(id).sealdrop"))
        #expect(flock(held, LOCK_UN) == 0)
        try fixture.client().download(id, into: folder, part: ".x.part", journal: try ReceivedJournal(file: fixture.directory.file("journal")))
        #expect(try fixture.directory.read(".x.part") == envelope)
    }

    /// A drop box that stops answering while the acknowledgment uploads:
    /// the transfer is received and recorded all the same, and the missing
    /// acknowledgment is reported, not hidden.
    @Test func aDropBoxThatStallsTheAcknowledgmentLeavesTheFileReceived() throws {
        let fixture = try HostileFixture()
        let plaintext = Fixtures.bytes(50_000, seed: 10)
        let (envelope, id) = try fixture.seal(plaintext)
        fixture.offer(envelope, as: id)
        fixture.server.override = { message in
            guard case .open(_, let path, _, _) = message, String(decoding: path, as: UTF8.self).hasPrefix("/receipts/") else { return nil }
            return .stall
        }
        let dropBox = try fixture.client(timeout: 2)
        let trust = try fixture.trustStore(dropBox)
        var journal = try ReceivedJournal(file: fixture.directory.file("journal"))
        let folder = try OutputDirectory(path: fixture.directory.path)
        try dropBox.download(id, into: folder, part: ".x.part", journal: journal)
        let received = try dropBox.open(part: ".x.part", in: folder, transfer: id, trust: trust, journal: &journal, to: folder, name: "x", overwrite: false)
        #expect(received.acknowledgmentFailure?.contains("sent nothing for 2 s") == true, "\(received.acknowledgmentFailure ?? "none")")
        #expect(try fixture.directory.read("x") == plaintext)
        #expect(try ReceivedJournal(file: fixture.directory.file("journal")).contains(id))
    }

    /// A drop box sending data on the SSH error stream beside every reply:
    /// SFTP never uses it, and libssh would keep every byte of it until the
    /// session ends. It is drained as it comes and refused past its limit.
    @Test func aFloodOnTheErrorStreamIsRefused() throws {
        let fixture = try HostileFixture()
        // 8 MiB: over 32 replies of a transfer's block, so 64 KiB beside
        // each passes the 1 MiB limit well before the last one.
        let (envelope, id) = try fixture.seal(Fixtures.bytes(8 << 20, seed: 13))
        fixture.offer(envelope, as: id)
        let dropBox = try fixture.client(timeout: 2)
        fixture.server.standardErrorPerReply = 64 << 10
        do {
            try dropBox.download(
                id, into: try OutputDirectory(path: fixture.directory.path), part: ".x.part",
                journal: try ReceivedJournal(file: fixture.directory.file("journal")))
            Issue.record("the download ignored \(64 * fixture.server.openedPaths.count) KiB and more on the error stream")
        } catch let error as SSHError {
            #expect(error.code == .channelFailed, "\(error.message)")
            #expect(error.message.contains("error stream"), "\(error.message)")
        }
    }

    /// An upload acknowledged under request ids never used is a drop box
    /// that does not follow the protocol: refused, not counted as stored.
    @Test func uploadAcknowledgementsForRequestsNeverMadeAreRefused() throws {
        let fixture = try HostileFixture()
        fixture.server.override = { message in
            guard case .write(let request, _, _, _) = message else { return nil }
            return .reply([.status(id: request &+ 1000, code: .ok, message: "")])
        }
        let dropBox = try fixture.client("oldvendor", timeout: 2)
        let handle = try dropBox.sftp.open("/outbox/newvendor/upload.sealdrop", flags: [.write, .create, .truncate])
        let upload = SFTPUploadSink(client: dropBox.sftp, handle: handle)
        expectCode(.protocolViolation) {
            try Fixtures.bytes(100_000).withUnsafeBytes { try upload.write($0) }
            try upload.finish()
        }
    }

    func setMode(_ path: String, _ mode: mode_t) throws {
        guard chmod(path, mode) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }
}
