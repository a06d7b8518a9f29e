import Foundation
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropTrust

/// Decides whether a finished upload may be published: "no plaintext at
/// rest" (DESIGN.md) rests on this check and the staging area in front of it.
struct UploadValidator {
    let configuration: DropBoxConfiguration

    struct Accepted {
        let header: EnvelopeHeader
        let size: UInt64
        let sha256: String
    }

    /// - Parameters:
    ///   - uploader: the logged-in vendor, verified for "sender".
    ///   - recipient: the vendor named by the upload path, verified for "recipient".
    func validate(fd: Int32, path: String, size: UInt64, uploader: VerifiedParty, recipient: VerifiedParty, now: Date) throws(UploadRejection) -> Accepted {
        guard size <= configuration.maximumFileSize else {
            throw UploadRejection("the upload is \(size) bytes, more than the limit of \(configuration.maximumFileSize)")
        }
        let signed: SignedEnvelopeHeader
        do {
            var source = try FileDescriptor.openForReading(path)
            signed = try EnvelopeHeaderReader.read(from: &source)
        } catch let error as EnvelopeError {
            throw UploadRejection("it is not a sealdrop envelope (\(error.message)); only sealed files are accepted, never plaintext")
        } catch {
            throw UploadRejection("the upload could not be read back: \(error)")
        }
        guard EnvelopeFormat.isConsistentLength(size) else {
            throw UploadRejection("its length (\(size) bytes) is not a header plus whole chunks: the upload is truncated or padded")
        }
        let header = signed.header
        guard header.senderKey == uploader.key.fingerprint, header.senderCertificate == uploader.certificate.fingerprint else {
            throw UploadRejection("it was not sealed by you (\(uploader.name)): its header names another sender")
        }
        guard uploader.key.signingKey.isValidSignature(signed.signature, for: signed.signingMessage) else {
            throw UploadRejection("its header signature does not verify against your certificate")
        }
        guard header.recipientKey == recipient.key.fingerprint, header.recipientCertificate == recipient.certificate.fingerprint else {
            throw UploadRejection("it is sealed for another vendor than \(recipient.name), whose outbox it was uploaded to")
        }
        let expires = Date(timeIntervalSince1970: TimeInterval(header.expires))
        guard expires > now else { throw UploadRejection("its requested expiry has already passed") }
        guard expires.timeIntervalSince(now) <= configuration.maximumExpiry + CertificateVerifier.clockSkew else {
            throw UploadRejection(
                "it asks to be kept until \(CertificateVerifier.format(expires)), beyond this server's ceiling of \(Int(configuration.maximumExpiry / 86_400)) days"
            )
        }
        return Accepted(header: header, size: size, sha256: try digest(fd: fd, size: size))
    }

    /// SHA-256 of the whole staged file, recorded as the ciphertext hash.
    private func digest(fd: Int32, size: UInt64) throws(UploadRejection) -> String {
        let hasher = SHA256Stream()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: UInt64 = 0
        while offset < size {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard count > 0 else { throw UploadRejection("the upload could not be read back") }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            offset += UInt64(count)
        }
        return Hex.encode(hasher.finalize())
    }
}

/// Why an upload was refused, as the uploader is told.
struct UploadRejection: Error, CustomStringConvertible {
    let reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { "upload rejected: \(reason)" }
}
