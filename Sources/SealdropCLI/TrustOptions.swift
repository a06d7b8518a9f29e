import ArgumentParser
import Foundation
import SealdropKeys
import SealdropTrust

/// How the other party is named: by vendor name through the trust store
/// (the default), or by a bare key file with `--unverified-key`.
struct TrustOptions: ParsableArguments {
    static let environmentVariable = "SEALDROP_TRUST"

    @Option(
        help: ArgumentHelp(
            "The trust store folder: ca.pem, vendors/, revocations.crl (default: $SEALDROP_TRUST, else ./Certificates).",
            valueName: "dir"
        ))
    var trust: String?

    @Flag(
        help: """
            Name the other party by an OpenSSH public key file instead of a vendor name. \
            Nothing then checks that the key belongs to that vendor, is current or is not \
            revoked: whoever could swap the key file could read or forge the extract.
            """)
    var unverifiedKey = false

    var trustDirectory: String {
        trust ?? ProcessInfo.processInfo.environment[Self.environmentVariable] ?? "Certificates"
    }

    func loadStore() throws -> TrustStore {
        try TrustStore.load(directory: trustDirectory)
    }

    /// Checks that `value` fits the chosen form, with a hint when it does not.
    func validateParty(_ value: String, option: String) throws {
        if unverifiedKey { return }
        if let problem = VendorName.problem(with: value) {
            let looksLikeFile = value.contains("/") || value.hasSuffix(".pub")
            throw ValidationError(
                looksLikeFile
                    ? "\(option) \(value) looks like a key file; name a vendor, or add --unverified-key to use a bare key (and give up certificate checks)"
                    : "\(option) \"\(value)\" is not a vendor name: \(problem)"
            )
        }
    }

    func warnUnverified(_ role: String) {
        if unverifiedKey {
            Terminal.warning("--unverified-key: the \(role) key is not checked against any certificate, expiry or revocation")
        }
    }
}
