import ArgumentParser
import Foundation
import SealdropFormat
import SealdropTrust

/// `sealdrop cert`: look at certificates.
struct CertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Show certificates.",
        subcommands: [CertShowCommand.self]
    )
}

struct CertShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a certificate in plain words; with --trust, whether it verifies."
    )

    @Argument(help: ArgumentHelp("A PEM certificate file.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("A trust store to verify the certificate against.", valueName: "dir"))
    var trust: String?

    func run() throws {
        let certificate = try VendorCertificate.load(path: file)
        let x509 = certificate.certificate
        let roles = (try? certificate.roles())?.map(\.rawValue) ?? []
        let isCA: Bool = {
            if let constraints = try? x509.extensions.basicConstraints, case .isCertificateAuthority = constraints { return true }
            return false
        }()
        let key = (try? certificate.vendorKey()).map { "Ed25519, \($0.fingerprint)" } ?? VendorCertificate.keyKind(x509.publicKey)
        let lines = [
            "subject:      \(certificate.commonName.map(Terminal.printable) ?? "(no name)")  [\(x509.subject)]",
            "kind:         \(isCA ? "certificate authority" : roles.isEmpty ? "no sealdrop role" : roles.joined(separator: ", "))",
            "key:          \(key)",
            "fingerprint:  \(certificate.fingerprint)",
            "valid from:   \(CertificateVerifier.format(x509.notValidBefore))",
            "valid until:  \(CertificateVerifier.format(x509.notValidAfter))",
            "issuer:       \(x509.issuer)",
            "serial:       \(Hex.encode(x509.serialNumber.bytes))",
        ]
        print(lines.joined(separator: "\n"))
        guard let trust else { return }
        let store = try TrustStore.load(directory: trust)
        let purpose: CertificatePurpose = roles.contains(CertificateRole.server.rawValue) ? .server : .recipient
        let party = try store.verifier().verify(certificate, for: purpose)
        print("verdict:      trusted \(purpose == .server ? "server" : "vendor") \"\(party.name)\" under \(store.ca.certificate.subject)")
    }
}
