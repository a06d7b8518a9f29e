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

    /// - Parameter floorFile: where the highest revocation list number seen
    ///   is kept, so a server cannot serve an older list to undo a revocation.
    init(client: DropBoxClient, pinnedCA: String, vendors: [String], floorFile: String) throws {
        var template = Array((NSTemporaryDirectory() + "/sealdrop-trust.XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw CLIFailure(message: "cannot create a temporary folder", status: .failure)
        }
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            try FileManager.default.createDirectory(atPath: directory + "/vendors", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: pinnedCA, toPath: directory + "/ca.pem")
            try Self.fetch(client, "/directory/revocations.crl", to: directory + "/revocations.crl", required: true)
            for vendor in Set(vendors) {
                try Self.fetch(client, "/directory/\(vendor).pem", to: directory + "/vendors/\(vendor).pem", required: false)
            }
            store = try TrustStore.load(directory: directory, floorFile: floorFile)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Certificates and revocation lists are a few KiB; a server sending more is refused.
    static let maximumFileSize = 1 << 20

    private static func fetch(_ client: DropBoxClient, _ remote: String, to local: String, required: Bool) throws {
        let bytes: [UInt8]
        do {
            bytes = try client.sftp.readFile(remote, maximumSize: maximumFileSize)
        } catch {
            if required { throw error }
            return
        }
        try Data(bytes).write(to: URL(fileURLWithPath: local))
    }
}
