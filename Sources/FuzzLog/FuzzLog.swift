import FuzzSupport

// Fuzz target: every parser of the receipt log (SealdropLog). The first
// byte of an input chooses the parser, the rest is what it reads:
//
//   0 an entry (`LogEntry(decoding:)`)
//   1 a signed tree head (JSON)
//   2 a published head, `/receipts/head` or `consistency-N.json` (JSON),
//     checked by the witness against a head saved earlier
//   3 a transfer receipt, `/receipts/ID.json` (JSON), with its inclusion proofs
//   4 an acknowledgment and a declaration (JSON), as the server reads an
//     uploaded statement and the auditor reads a logged one
//   5 an exported log bundle (JSON)
//   6 a whole log, one entry a line, through the audit verifier
//   7 binary Merkle proofs against a tree built from the input
//
// Properties besides "never traps" are listed with each check.
@main
enum FuzzLog {
    static func main() { fuzzMain(checkLog) }
}

func checkLog(_ input: [UInt8]) {
    guard let selector = input.first else { return }
    let bytes = Array(input.dropFirst())
    switch selector % 8 {
    case 0: checkEntry(bytes)
    case 1: checkTreeHead(bytes)
    case 2: checkPublishedHead(bytes)
    case 3: checkReceipt(bytes)
    case 4: checkStatements(bytes)
    case 5: checkBundle(bytes)
    case 6: checkAudit(bytes)
    default: checkProofs(bytes)
    }
}
