import Foundation
import SealdropClient
import SealdropIO
import SealdropKeys
import SealdropSFTP
import SealdropSSH
import Testing

/// The client's bulk paths against a real libssh server: every byte of an
/// upload arrives once, in order, at the offset it was sent for, whatever
/// pieces the sealer writes; and the cipher chosen is the one documented.
@Suite struct TransferPathTests {
    /// Collects what the server saw of each WRITE, from the server's thread.
    final class WriteLog: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [(offset: UInt64, count: Int)] = []
        func add(_ offset: UInt64, _ count: Int) { lock.withLock { entries.append((offset, count)) } }
        var all: [(offset: UInt64, count: Int)] { lock.withLock { entries } }
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    func upload(_ data: [UInt8], pieces: [Int], behind: Bool) throws -> (written: [UInt8], writes: [(offset: UInt64, count: Int)]) {
        let fixture = try HostileFixture()
        let log = WriteLog()
        fixture.server.override = { message in
            if case .write(_, _, let offset, let bytes) = message { log.add(offset, bytes.count) }
            return nil
        }
        let dropBox = try fixture.client()
        let path = "/outbox/oldvendor/upload.sealdrop"
        let handle = try dropBox.sftp.open(path, flags: [.write, .create, .truncate])
        let upload = SFTPUploadSink(client: dropBox.sftp, handle: handle)
        var index = 0
        var piece = 0
        let behindSink = behind ? WriteBehindSink(upload) : nil
        while index < data.count {
            let take = min(pieces[piece % pieces.count], data.count - index)
            try data[index..<(index + take)].withUnsafeBytes { bytes in
                if let behindSink { try behindSink.write(bytes) } else { try upload.write(bytes) }
            }
            index += take
            piece += 1
        }
        try behindSink?.finish()
        try upload.finish()
        try dropBox.sftp.close(handle)
        #expect(upload.bytesSent == UInt64(data.count))
        return (fixture.server.written[path] ?? [], log.all)
    }

    @Test(arguments: [false, true])
    func everyByteArrivesOnceInOrderAtItsOffset(behind: Bool) throws {
        let block = SFTPClient.transferBlockSize
        let data = Self.randomBytes(5 * block + 12_345)
        // Pieces smaller than, equal to and larger than a block, as a
        // sealer's 64 KiB + 17-byte chunks and a trailer fall across them.
        let (written, writes) = try upload(data, pieces: [1, 7, block - 8, block, block + 17, 3 * block + 1, 152], behind: behind)
        #expect(written == data)
        #expect(writes.map(\.offset) == (0..<6).map { UInt64($0 * block) })
        #expect(writes.map(\.count) == [block, block, block, block, block, 12_345])
    }

    @Test func anEmptyUploadSendsNoWrite() throws {
        let (written, writes) = try upload([], pieces: [1], behind: false)
        #expect(written.isEmpty)
        #expect(writes.isEmpty)
    }

    @Test func aesFlagsAreReadFromCPUInfo() {
        #expect(SSHCipherPreference.hasAESInstructions(cpuInfo: "processor\t: 0\nflags\t\t: fpu sse2 aes avx2 sha_ni\n"))
        #expect(SSHCipherPreference.hasAESInstructions(cpuInfo: "Features\t: fp asimd aes pmull sha1 sha2\n"))
        #expect(!SSHCipherPreference.hasAESInstructions(cpuInfo: "flags\t\t: fpu sse2 avx2 vaes_not\nmodel name\t: aes machine\n"))
        #expect(!SSHCipherPreference.hasAESInstructions(cpuInfo: ""))
    }

    @Test func theConnectionUsesThePreferredCipher() throws {
        let fixture = try HostileFixture()
        let identity = try VendorIdentity.load(path: fixture.directory.file("newvendor"), passphrase: .none)
        let connection = try SSHClientConnection(
            host: "127.0.0.1", port: fixture.server.port, user: "newvendor", pinnedHostKey: fixture.server.hostKeyFingerprint,
            privateKeyPEM: identity.openSSHPrivateKeyText(), timeout: 5)
        let preferred = String(SSHCipherPreference.ciphers.split(separator: ",")[0])
        #expect(connection.ciphers.toServer == preferred)
        #expect(connection.ciphers.fromServer == preferred)
        let hasAES = SSHCipherPreference.hasAESInstructions(cpuInfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
        #expect(preferred == (hasAES ? "aes256-gcm@openssh.com" : "chacha20-poly1305@openssh.com"))
    }
}
