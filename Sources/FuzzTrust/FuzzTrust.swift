import FuzzSupport

// Fuzz target: certificates and revocation lists (SealdropTrust). The first
// byte of an input chooses what the rest is:
//
//   0 a PEM certificate, as a trust store file holds one
//   1 a DER certificate
//   2 a revocation list, PEM or DER, as `revocations.crl` holds it
//   3 the signed part of a revocation list, signed here by the fuzz CA (so
//     the fuzzer reaches the list's fields past the signature check)
//   4 a trust store from bytes: CA, list and certificates separated by NUL
//
// `FuzzTrust --write-seeds DIR` writes the seed corpus (certificates and
// lists issued by the fuzz CA); `ops/fuzz-seeds FuzzTrust` runs it.
@main
enum FuzzTrust {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "--write-seeds" {
            writeSeeds(to: arguments[2])
            return
        }
        fuzzMain(checkTrust)
    }
}

func checkTrust(_ input: [UInt8]) {
    guard let selector = input.first else { return }
    let bytes = Array(input.dropFirst())
    switch selector % 5 {
    case 0: checkPEMCertificate(bytes)
    case 1: checkDERCertificate(bytes)
    case 2: checkRevocationList(bytes)
    case 3: checkSignedRevocationList(tbs: bytes)
    default: checkTrustStore(bytes)
    }
}
