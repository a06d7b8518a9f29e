import Foundation
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropTrust

/// Decides whether a finished upload may be published: "no plaintext at
/// rest" (ops/threat-model.md) rests on this check and the staging area in front of it.
///
/// Only a whole format v2 envelope passes: header signed by the uploader for
/// the vendor whose outbox it is, every message shaped like ciphertext, and
/// the uploader's signed trailer matching the header, the stream's length and
/// the hash of the bytes. All of it in one read of the staged file, which
/// also yields the SHA-256 recorded for the transfer.
struct UploadValidator {
    let configuration: DropBoxConfiguration

    struct Accepted {
        let header: EnvelopeHeader
        let size: UInt64
        /// SHA-256 of the whole envelope, lower-case hex.
        let sha256: String
        /// The uploader's verified trailer: its signature over the header
        /// hash, stream length and content hash is the sender's word for
        /// exactly this file, for the receipt log to keep.
        let trailer: EnvelopeTrailer
    }

    /// - Parameters:
    ///   - uploader: the logged-in vendor, verified for "sender".
    ///   - recipient: the vendor named by the upload path, verified for "recipient".
    func validate(fd: Int32, path: String, size: UInt64, uploader: VerifiedParty, recipient: VerifiedParty, now: Date) throws(UploadRejection) -> Accepted {
        guard size <= configuration.maximumFileSize else {
            throw UploadRejection("the upload is \(size) bytes, more than the limit of \(configuration.maximumFileSize)")
        }
        var source = StagedFileSource(fd: fd)
        do {
            let verification = try EnvelopeVerification(from: &source, length: size) { header throws(UploadRejection) in
                guard header.senderKey == uploader.key.fingerprint, header.senderCertificate == uploader.certificate.fingerprint else {
                    throw UploadRejection("it was not sealed by you (\(uploader.name)): its header names another sender")
                }
                return uploader.key
            }
            let header = verification.signedHeader.header
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
            let verified = try verification.finish(from: &source)
            return Accepted(header: header, size: size, sha256: Hex.encode(verified.sha256), trailer: verified.trailer)
        } catch let rejection as UploadRejection {
            throw rejection
        } catch let error as EnvelopeError {
            throw UploadRejection(envelope: error)
        } catch {
            throw UploadRejection("the upload could not be read back: \(error)")
        }
    }
}

/// Why an upload was refused, as the uploader is told.
struct UploadRejection: Error, CustomStringConvertible {
    let reason: String

    init(_ reason: String) {
        self.reason = reason
    }

    /// The uploader's view of an envelope check: what failed and what to do.
    init(envelope error: EnvelopeError) {
        switch error.code {
        case .legacyVersion:
            reason =
                "envelope format v1 is no longer accepted for upload: update sealdrop on the sending side and seal the file again (v1 envelopes already delivered still open)"
        case .trailerMissing:
            reason = "truncated at a chunk boundary, the sender's signed trailer is missing (\(error.message)); send the file again"
        case .truncatedStream, .trailingData:
            reason = "truncated or padded: \(error.message); send the file again"
        case .plaintextBody:
            reason = "it looks like plaintext: \(error.message)"
        case .badTrailerSignature:
            reason = "its trailer signature does not verify against your certificate: \(error.message)"
        case .malformedTrailer, .trailerHeaderMismatch, .trailerLengthMismatch, .trailerHashMismatch:
            reason = "its trailer does not match the upload: \(error.message)"
        case .badSignature:
            reason = "its header signature does not verify against your certificate"
        default:
            reason = "it is not a sealdrop envelope (\(error.message)); only sealed files are accepted, never plaintext"
        }
    }

    var description: String { "upload rejected: \(reason)" }
}

/// Reads the staged file through its descriptor from the start, with
/// positioned reads, so nothing else's file offset matters.
private struct StagedFileSource: ByteSource {
    let fd: Int32
    var offset: off_t = 0

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = pread(fd, buffer.baseAddress, buffer.count, offset)
            if count >= 0 {
                offset += off_t(count)
                return count
            }
            guard errno == EINTR else { throw UploadRejection("the upload could not be read back (errno \(errno))") }
        }
    }
}
