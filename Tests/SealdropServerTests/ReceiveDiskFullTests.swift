import Foundation
import Testing
import TestSupport

/// `sealdrop receive` into a folder on a small tmpfs: it fails clearly,
/// leaves nothing under the output name, and completes once space is freed.
@Suite struct ReceiveDiskFullTests {
    /// A tmpfs of `megabytes` MiB at `path` (made here); unmounted by the caller.
    static func mount(_ path: String, megabytes: Int) throws {
        #expect(mkdir(path, 0o700) == 0 || errno == EEXIST)
        let mounted = try Subprocess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path])
        guard mounted.status == 0 else { throw FixtureError.setup("cannot mount a tmpfs: \(mounted.standardError)") }
    }

    static func resize(_ path: String, megabytes: Int) throws {
        let remounted = try Subprocess.run("/bin/mount", ["-o", "remount,size=\(megabytes)m", path])
        guard remounted.status == 0 else { throw FixtureError.setup("cannot resize the tmpfs: \(remounted.standardError)") }
    }

    static func names(_ path: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    /// A server holding one 6 MiB transfer for `newvendor`, and a tmpfs of
    /// `megabytes` MiB at `small/` to receive it into.
    struct Setting {
        let server: ServerFixture
        let environment: [String: String]
        let plaintext: [UInt8]
        let id: String
        let folder: String

        init(seed: UInt64, megabytes: Int) throws {
            server = try ServerFixture()
            environment = try ClientIntegrationTests.profiles(server)
            plaintext = Fixtures.bytes(6 << 20, seed: seed)
            _ = try server.directory.write(plaintext, to: "big")
            #expect(try ClientIntegrationTests.run(server, environment, ["send", "big", "--to", "newvendor", "--profile", "oldvendor"]).status == 0)
            id = try #require(try ClientIntegrationTests.inboxIDs(server, environment).first)
            folder = server.directory.file("small")
            try ReceiveDiskFullTests.mount(folder, megabytes: megabytes)
        }

        func receive() throws -> ProcessResult {
            try ClientIntegrationTests.run(server, environment, ["receive", id, "-o", "small/big.out", "--profile", "newvendor"])
        }

        /// Frees space and checks the same command now completes.
        func resizeAndReceive() throws {
            try ReceiveDiskFullTests.resize(folder, megabytes: 32)
            let received = try receive()
            #expect(received.status == 0, "\(received.standardError)")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/big.out"))) == plaintext)
            #expect(ReceiveDiskFullTests.names(folder) == ["big.out"])
        }

        func unmount() { _ = try? Subprocess.run("/bin/umount", ["-l", folder]) }
    }

    @Test(.enabled(if: DiskFullTests.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN); run the tests as root"))
    func aFolderTooSmallForTheDownloadIsRefusedBeforeAnyByteAndWorksOnceFreed() throws {
        let setting = try Setting(seed: 31, megabytes: 4)
        defer { setting.unmount() }

        let full = try setting.receive()
        #expect(full.status != 0)
        #expect(full.standardError.contains("bytes free; nothing was downloaded"), "\(full.standardError)")
        #expect(Self.names(setting.folder).isEmpty, "nothing left in the folder: \(Self.names(setting.folder))")
        #expect(try ClientIntegrationTests.inboxIDs(setting.server, setting.environment) == [setting.id], "still waiting")
        try setting.resizeAndReceive()
    }

    @Test(.enabled(if: DiskFullTests.canMount, "mounting a tmpfs needs root (CAP_SYS_ADMIN); run the tests as root"))
    func aDiskThatFillsMidReceiveKeepsOnlyThePartFileAndFinishesOnceFreed() throws {
        // Room for the ciphertext (6 MiB and a little), not for the plaintext beside it as well.
        let setting = try Setting(seed: 32, megabytes: 9)
        defer { setting.unmount() }

        let full = try setting.receive()
        let folder = setting.folder
        #expect(full.status != 0)
        print("receive into a full disk: \(full.standardError.split(separator: "\n").last ?? "")")
        #expect(full.standardError.contains("No space left on device"), "says the disk is full: \(full.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/big.out"), "nothing under the output name: \(Self.names(folder))")
        #expect(Self.names(folder) == [".big.out.sealdrop-part"], "only the ciphertext is kept: \(Self.names(folder))")
        try setting.resizeAndReceive()
    }
}
