import Foundation
import SealdropKeys
import SealdropSFTP
import SealdropServer
import SealdropStore
import SealdropTrust
import Synchronization
import Testing
import TestSupport

/// The drop box in-process, on a real data directory and the example
/// certificates: trust refresh, refusal aggregation, fail-closed logins, the
/// private data directory, the start-up sweep.
@Suite struct DropBoxLifecycleTests {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
        let made = try Subprocess.run("/bin/bash", [Fixtures.root + "/ops/gen-certificates", directory.path, Fixtures.sealdrop])
        guard made.status == 0 else { throw FixtureError.setup(made.standardError) }
    }

    func configuration(data: String? = nil) -> DropBoxConfiguration {
        DropBoxConfiguration(dataDirectory: data ?? directory.file("data"), trustDirectory: directory.file("ca/trust"))
    }

    func key(_ vendor: String) throws -> VendorPublicKey {
        try VendorIdentity.load(path: directory.file(vendor), passphrase: .none).publicKey
    }

    @Test func theTrustStoreIsParsedOnceAndANewRevocationListIsPickedUp() throws {
        var configuration = configuration()
        configuration.trustCheckInterval = 0.2
        let dropBox = try DropBox(configuration: configuration)
        let vendor = try #require(dropBox.authenticate(user: "newvendor", key: try key("newvendor"), sourceAddress: "127.0.0.1", signed: true))
        for _ in 0..<50 { #expect(dropBox.isStillValid(vendor: vendor)) }
        #expect(dropBox.trustLoads == 1, "50 checks, one parse")

        let revoked = try Subprocess.run(
            Fixtures.sealdrop, ["ca", "revoke", "--ca-dir", "ca", "newvendor", "--reason", "keyCompromise"], directory: directory.path)
        #expect(revoked.status == 0, "\(revoked.standardError)")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(!dropBox.isStillValid(vendor: vendor), "the new list is read without a restart")
        #expect(dropBox.trustLoads == 2)
        #expect(dropBox.authenticate(user: "newvendor", key: try key("newvendor"), sourceAddress: "127.0.0.1", signed: true) == nil)
        let other = try #require(dropBox.authenticate(user: "oldvendor", key: try key("oldvendor"), sourceAddress: "127.0.0.1", signed: true))
        #expect(dropBox.isStillValid(vendor: other))
    }

    @Test func aCertificateIssuedWhileRunningIsPickedUp() throws {
        var configuration = configuration()
        configuration.trustCheckInterval = 0.2
        let dropBox = try DropBox(configuration: configuration)
        let name = try VendorName("latecomer")
        #expect(throws: (any Error).self) { try dropBox.currentTrust().party(named: name, for: .recipient) }
        var authority = try CertificateAuthority.load(directory: directory.file("ca"), passphrase: .none)
        try authority.issue(name: name, subjectKey: VendorIdentity.generate().publicKey, role: .vendor, days: 30)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try dropBox.currentTrust().party(named: name, for: .recipient).name == name)
        #expect(dropBox.trustLoads == 2)
    }

    @Test func aSessionOfAKeyReplacedUnderTheSameNameCannotOpenItsInbox() throws {
        var configuration = configuration()
        configuration.trustCheckInterval = 0.2
        let dropBox = try DropBox(configuration: configuration)
        let vendor = try #require(dropBox.authenticate(user: "newvendor", key: try key("newvendor"), sourceAddress: "127.0.0.1", signed: true))
        let session = SFTPSession(dropBox: dropBox, vendor: vendor, sourceAddress: "127.0.0.1")
        _ = session.handle(.initialize(version: 3, extensions: []))
        let inbox = Array("/inbox/\(String(repeating: "ab", count: 16)).sealdrop".utf8)
        guard case .status(_, .noSuchFile, _) = session.handle(.open(id: 1, path: inbox, flags: .read, attributes: .empty)).first else {
            Issue.record("a valid session asking for an unknown id is told it does not exist")
            return
        }

        // The operator certifies another key under the same name; the old
        // certificate is not even revoked yet.
        var authority = try CertificateAuthority.load(directory: directory.file("ca"), passphrase: .none)
        _ = try authority.issue(name: vendor.name, subjectKey: VendorIdentity.generate().publicKey, role: .vendor, days: 30, replace: true)
        Thread.sleep(forTimeInterval: 0.3)
        guard case .status(_, .permissionDenied, let message) = session.handle(.open(id: 2, path: inbox, flags: .read, attributes: .empty)).first else {
            Issue.record("the session of the replaced key must lose its inbox")
            return
        }
        #expect(message.contains("no longer verifies"))
    }

    @Test func aTrustStoreThatStopsLoadingFailsClosed() throws {
        let dropBox = try DropBox(configuration: configuration())
        let vendor = try #require(dropBox.authenticate(user: "newvendor", key: try key("newvendor"), sourceAddress: "127.0.0.1", signed: true))
        try Data("not a list".utf8).write(to: URL(fileURLWithPath: directory.file("ca/trust/revocations.crl")))
        dropBox.refreshTrust()
        #expect(!dropBox.isStillValid(vendor: vendor))
        #expect(throws: (any Error).self) { try dropBox.currentTrust() }
    }

    @Test func aFloodOfRefusalsIsRecordedOncePerSourceAndWindow() throws {
        var configuration = configuration()
        configuration.refusalWindow = 10
        let dropBox = try DropBox(configuration: configuration)
        let start = Date()
        for index in 0..<1000 {
            dropBox.recordRefusal(
                kind: .loginRefused, actor: "guess\(index % 3)", source: "192.0.2.7", detail: "unknown vendor",
                now: start.addingTimeInterval(Double(index) / 1000))
        }
        dropBox.recordRefusal(kind: .refusedSession, actor: "", source: "192.0.2.7", detail: "the server is full", now: start)
        dropBox.recordRefusal(kind: .loginRefused, actor: "x", source: "192.0.2.8", detail: "unknown vendor", now: start)
        dropBox.recordRefusal(kind: .loginRefused, actor: "y", source: "198.51.100.9", detail: "unknown vendor", now: start)
        var refusals = try dropBox.events().filter { TransferEvent.refusalKinds.contains($0.kind) }
        #expect(refusals.count == 3, "the first of each (source range, kind) at once")
        #expect(refusals.first?.sourceAddress == "192.0.2.7", "the first entry keeps the exact address")
        dropBox.flushRefusals(now: start.addingTimeInterval(5))
        #expect(try dropBox.events().filter { TransferEvent.refusalKinds.contains($0.kind) }.count == 3, "the window is still open")
        dropBox.flushRefusals(now: start.addingTimeInterval(10))
        refusals = try dropBox.events().filter { TransferEvent.refusalKinds.contains($0.kind) }
        #expect(refusals.count == 4)
        let summary = try #require(refusals.last)
        #expect(summary.sourceAddress == "192.0.2.0/24" && summary.kind == .loginRefused)
        #expect(summary.detail.hasPrefix("1000 more refused in 10 s (names offered: guess1, guess2, guess0, x)"), "\(summary.detail)")

        // One host picking a new address of its IPv6 /64 for each attempt
        // is one source: one entry at once, one summary.
        for index in 0..<5_000 {
            dropBox.recordRefusal(
                kind: .refusedSession, actor: "", source: "2001:db8:0:7::\(String(index, radix: 16))", detail: "full", now: start.addingTimeInterval(15))
        }
        dropBox.flushRefusals(now: start.addingTimeInterval(16), all: true)
        // The log keeps whole seconds: select by a margin, not by the instant.
        let fromOneRange = try dropBox.events().filter {
            $0.kind == .refusedSession && $0.time > start.addingTimeInterval(13) && $0.time < start.addingTimeInterval(18)
        }
        #expect(fromOneRange.count == 2, "\(fromOneRange.map(\.detail))")
        #expect(fromOneRange.last?.sourceAddress == "2001:db8:0:7::/64" && fromOneRange.last?.count == 4_999)

        // Thousands of ranges: the entries stay bounded by the source cap.
        let flood = DropBox.maximumRefusalSources + 500
        for index in 0..<flood {
            dropBox.recordRefusal(
                kind: .refusedSession, actor: "", source: "10.\(index >> 8).\(index & 255).7", detail: "full",
                now: start.addingTimeInterval(20))
        }
        dropBox.flushRefusals(now: start.addingTimeInterval(40), all: true)
        let sessions = try dropBox.events().filter { $0.kind == .refusedSession && $0.time >= start.addingTimeInterval(20) }
        #expect(sessions.count <= DropBox.maximumRefusalSources + 2, "\(sessions.count) entries for \(flood) sources")
        #expect(sessions.contains { $0.sourceAddress == "*" && $0.detail.contains("more refused") })
    }

    @Test func theDataDirectoryIsMadePrivate() throws {
        let data = directory.file("loose")
        try FileManager.default.createDirectory(atPath: data + "/blobs", withIntermediateDirectories: true)
        chmod(data, 0o755)
        chmod(data + "/blobs", 0o777)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: data + "/notes"))
        chmod(data + "/notes", 0o644)
        let lines = Mutex([String]())
        _ = try DropBox(configuration: configuration(data: data), log: { line in lines.withLock { $0.append(line) } })
        for (path, mode) in [(data, 0o700), (data + "/blobs", 0o700), (data + "/notes", 0o600), (data + "/metadata.sqlite", 0o600), (data + "/staging", 0o700)]
        {
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & 0o777 == mode_t(mode), "\(path): \(String(info.st_mode & 0o777, radix: 8))")
        }
        #expect(lines.withLock { $0 }.contains { $0.contains("tightened the modes") && $0.contains("was 755") })
    }

    /// `--data /` or `--data /home` by mistake: the server must not make
    /// every entry of a directory that is not a drop box 0700/0600 (as root,
    /// that broke /proc and would break a whole system).
    @Test func aDirectoryHoldingSomethingElseIsNotTakenOver() throws {
        let data = directory.file("home")
        try FileManager.default.createDirectory(atPath: data + "/photos", withIntermediateDirectories: true)
        chmod(data, 0o755)
        chmod(data + "/photos", 0o755)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: data + "/notes"))
        chmod(data + "/notes", 0o644)
        do {
            _ = try DropBox(configuration: configuration(data: data))
            Issue.record("a directory holding other files was taken as the data directory")
        } catch let error as PrivateDirectoryError {
            #expect(error.description.contains("is not a drop box"), "\(error)")
        }
        for (path, mode) in [(data, 0o755), (data + "/photos", 0o755), (data + "/notes", 0o644)] {
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & 0o777 == mode_t(mode), "\(path): \(String(info.st_mode & 0o777, radix: 8))")
        }
        #expect(!FileManager.default.fileExists(atPath: data + "/metadata.sqlite"), "nothing was written into it")
    }

    /// The README's layout: the trust store inside the data directory.
    @Test func aDataDirectoryHoldingOnlyTheTrustStoreIsAccepted() throws {
        let data = directory.file("srv")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: directory.file("ca/trust"), toPath: data + "/Certificates")
        _ = try DropBox(configuration: DropBoxConfiguration(dataDirectory: data, trustDirectory: data + "/Certificates"))
        #expect(FileManager.default.fileExists(atPath: data + "/metadata.sqlite"))
    }

    /// A cluster node keeps only the handed-out head in its own data
    /// directory (metadata in PostgreSQL, blobs and keys elsewhere): it
    /// must start again after the first vendor read a head.
    @Test func aDataDirectoryHoldingOnlyTheKeptHeadIsADropBox() throws {
        let data = directory.file("node")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: data + "/" + DropBox.logHeadFile))
        _ = try DropBox(configuration: configuration(data: data))
        #expect(FileManager.default.fileExists(atPath: data + "/metadata.sqlite"))
    }

    @Test(.enabled(if: geteuid() == 0, "changing a directory's owner needs root"))
    func aDataDirectoryOfAnotherUserIsRefused() throws {
        let data = directory.file("foreign")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        #expect(chown(data, 65534, 65534) == 0)
        do {
            _ = try DropBox(configuration: configuration(data: data))
            Issue.record("a directory owned by user 65534 was accepted")
        } catch let error as PrivateDirectoryError {
            #expect(error.description.contains("belongs to user id 65534"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: data + "/metadata.sqlite"), "nothing was written into it")
    }

    @Test func theStartUpSweepRemovesAndRecordsOrphanBlobs() throws {
        let first = try DropBox(configuration: configuration())
        _ = first
        let orphan = directory.file("data/blobs/0123456789abcdef0123456789abcdef.blob")
        try Data(repeating: 7, count: 1234).write(to: URL(fileURLWithPath: orphan))
        let restarted = try DropBox(configuration: configuration())
        #expect(!FileManager.default.fileExists(atPath: orphan))
        let removed = try restarted.events().filter { $0.kind == .orphanRemoved }
        #expect(removed.count == 1)
        #expect(removed.first?.size == 1234)
    }

    @Test(.enabled(if: geteuid() == 0, "mounting a small file system needs root"))
    func aLoginThatCannotBeRecordedIsRefused() throws {
        let mountPoint = directory.file("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint])
        try #require(mounted.status == 0, "\(mounted.standardError)")
        defer { _ = try? Subprocess.run("/bin/umount", [mountPoint]) }
        let dropBox = try DropBox(configuration: configuration(data: mountPoint + "/data"))
        #expect(dropBox.authenticate(user: "newvendor", key: try key("newvendor"), sourceAddress: "127.0.0.1", signed: true) != nil)
        // Fill the file system to its last byte.
        let filler = open(mountPoint + "/filler", O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ write(filler, $0.baseAddress, $0.count) }) > 0 {}
        while block.withUnsafeBytes({ write(filler, $0.baseAddress, 1) }) > 0 {}
        close(filler)
        var refused = 0
        for _ in 0..<5 where dropBox.authenticate(user: "newvendor", key: try key("newvendor"), sourceAddress: "127.0.0.1", signed: true) == nil {
            refused += 1
        }
        #expect(refused == 5, "no login is accepted without its log entry")
        unlink(mountPoint + "/filler")
        #expect(
            dropBox.authenticate(user: "newvendor", key: try key("newvendor"), sourceAddress: "127.0.0.1", signed: true) != nil, "space again, logins again")
    }
}
