import Foundation
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropCrypto
import SealdropSSH
import SealdropTrust
import SealdropClient

/// A failure ready for the user: message, optional hint, exit status.
struct CLIFailure: Error {
    let message: String
    let hint: String?
    let status: ExitStatus

    init(message: String, hint: String? = nil, status: ExitStatus) {
        self.message = message
        self.hint = hint
        self.status = status
    }

    /// Maps the typed errors of the library targets to messages and codes;
    /// nil for errors of argument parsing, which ArgumentParser reports.
    init?(libraryError error: Error) {
        switch error {
        case let failure as CLIFailure:
            self = failure
        case let envelope as EnvelopeError:
            self.init(message: envelope.message, hint: Self.hint(for: envelope.code), status: .verification)
        case let key as KeyFileError:
            self.init(message: key.message, hint: Self.hint(for: key.code), status: .key)
        case let io as IOError where io.errno == EEXIST:
            self.init(message: "\(io.path) already exists", hint: "choose another output path, or pass --force to replace it", status: .usage)
        case let io as IOError where io.errno == EISDIR:
            self.init(message: "\(io.path) is a directory", hint: "name a file, not a folder", status: .usage)
        case let io as IOError:
            self.init(message: io.description, status: .failure)
        case let trust as TrustError:
            self.init(message: trust.message, hint: Self.hint(for: trust.code), status: .trust)
        case let crypto as CryptoError:
            self.init(message: crypto.message, status: .failure)
        case let ssh as SSHError where ssh.code == .hostKeyMismatch:
            self.init(
                message: ssh.message,
                hint:
                    "someone may be impersonating the drop box; do not continue. If the operator changed the key, confirm the new fingerprint with them and run 'sealdrop init' again",
                status: .network)
        case let ssh as SSHError where ssh.code == .timedOut:
            self.init(message: ssh.message, hint: "try again later, or raise --timeout if the link is slow", status: .network)
        case let ssh as SSHError:
            self.init(message: ssh.message, status: .network)
        case let dropBox as DropBoxError:
            switch dropBox.code {
            case .wrongEnvelope, .replayed, .badReceipt:
                self.init(message: dropBox.message, hint: "do not use what the drop box served; tell its operator", status: .verification)
            case .forkedLog:
                self.init(
                    message: dropBox.message,
                    hint:
                        "the drop box showed you a history that is not the one it showed before; hand the saved head and this message to the compliance officer ('sealdrop audit verify --witness-head FILE')",
                    status: .verification)
            case .localState:
                self.init(message: dropBox.message, status: .failure)
            case .refused, .notFound:
                self.init(message: dropBox.message, status: .network)
            case .invalidName, .missingAttribute, .tooLarge, .protocolViolation:
                self.init(
                    message: dropBox.message, hint: "the drop box broke its own rules; nothing it sent was used. Tell its operator",
                    status: .network)
            }
        default:
            return nil
        }
    }

    private static func hint(for code: EnvelopeError.Code) -> String? {
        switch code {
        case .senderMismatch:
            "the sender named with --from did not seal this file; ask the sender which key they used"
        case .wrongRecipient:
            "the file was sealed for someone else; ask the sender to seal it for your key (sealdrop keygen prints its fingerprint)"
        case .badSignature, .chunkAuthenticationFailed, .truncatedStream, .trailingData, .truncatedHeader, .trailerMissing, .malformedTrailer,
            .badTrailerSignature, .trailerHeaderMismatch, .trailerLengthMismatch, .trailerHashMismatch:
            "do not use this file; ask the sender to send it again"
        case .badMagic, .emptyInput:
            "check that you are opening the .sealdrop file"
        default:
            nil
        }
    }

    private static func hint(for code: TrustError.Code) -> String? {
        switch code {
        case .revoked, .expired, .wrongRole, .untrustedIssuer, .badSignature, .ambiguousKey:
            "do not send to or accept from this certificate; ask the CA operator"
        case .staleRevocationList, .trustStoreUnreadable, .unknownVendor:
            "fetch the current trust store from the CA operator, or pass --trust with its folder"
        default:
            nil
        }
    }

    private static func hint(for code: KeyFileError.Code) -> String? {
        switch code {
        case .wrongPassphrase, .passphraseUnavailable:
            "set \(PassphraseSource.environmentVariable) to the key's passphrase, or run on a terminal to be asked"
        case .unsupportedKeyType:
            "make an Ed25519 key with 'sealdrop keygen -o KEY' or 'ssh-keygen -t ed25519 -f KEY'"
        default:
            nil
        }
    }
}
