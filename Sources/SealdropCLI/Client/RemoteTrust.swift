import Foundation
import SealdropClient
import SealdropIO
import SealdropTrust

/// A trust store assembled for one command: the locally pinned CA, plus
/// certificates and the revocation list fetched from the server's
/// `/directory/`. The server cannot substitute a key: everything fetched is
/// verified against the pinned CA (it could withhold a newer revocation
/// list, which the list's own expiry bounds).
final class RemoteTrust {
    let directory: String
    let store: TrustStore

    init(client: DropBoxClient, pinnedCA: String, vendors: [String]) throws {
        var template = Array((NSTemporaryDirectory() + "/sealdrop-trust.XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw CLIFailure(message: "cannot create a temporary folder", status: .failure)
        }
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            try FileManager.default.createDirectory(atPath: directory + "/vendors", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: pinnedCA, toPath: directory + "/ca.pem")
            try Self.fetch(client, "/directory/revocations.crl", to: directory + "/revocations.crl", required: false)
            for vendor in Set(vendors) {
                try Self.fetch(client, "/directory/\(vendor).pem", to: directory + "/vendors/\(vendor).pem", required: false)
            }
            store = try TrustStore.load(directory: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func fetch(_ client: DropBoxClient, _ remote: String, to local: String, required: Bool) throws {
        let handle: [UInt8]
        let size: UInt64
        do {
            size = try client.sftp.stat(remote).size ?? 0
            handle = try client.sftp.open(remote, flags: .read)
        } catch {
            if required { throw error }
            return
        }
        var sink = MemorySink()
        try client.sftp.download(handle, from: 0, size: size, to: &sink)
        try client.sftp.close(handle)
        try Data(sink.bytes).write(to: URL(fileURLWithPath: local))
    }
}
