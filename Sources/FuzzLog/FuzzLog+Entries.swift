import Foundation
import SealdropFormat
@_spi(TestVectors) import SealdropLog

/// An entry: whatever decodes re-encodes to exactly its bytes, and the
/// value re-decodes from them; bytes that do not decode never make a value
/// whose encoding is those bytes (a reader and a writer agree).
func checkEntry(_ bytes: [UInt8]) {
    guard let entry = try? LogEntry(decoding: bytes) else { return }
    let encoded = entry.encoded()
    guard encoded == bytes else { fatalError("a decoded entry re-encodes to other bytes") }
    guard (try? LogEntry(decoding: encoded)) == entry else { fatalError("an entry does not decode from its own encoding") }
}

/// A whole log, one entry a line, audited against a head the receipt key
/// signed over exactly those entries (so the checks past the signature all
/// run): the audit returns problems, never traps; with the head over the
/// entries, no head-size or head-root problem is reported; a head one entry
/// short is always caught.
func checkAudit(_ bytes: [UInt8]) {
    let entries = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
    let timestamp = Date(timeIntervalSince1970: TimeInterval(LogVectors.epoch + Int64(bytes.count) * 1000) / 1000)
    let head = SignedTreeHead.sign(entries: entries, at: timestamp, with: FuzzKeys.receipt)
    let verifier = AuditVerifier(
        serverKey: FuzzKeys.receipt.publicKey, vendorKeys: [FuzzKeys.vendorName: FuzzKeys.vendor.publicKey], grace: 120)
    let problems = verifier.verify(entries: entries, head: head)
    if problems.contains(where: { [.headSignature, .headSize, .headRoot].contains($0.code) }) {
        fatalError("a head signed over the entries is refused: \(problems)")
    }
    let short = SignedTreeHead.sign(entries: Array(entries.dropLast()), at: timestamp, with: FuzzKeys.receipt)
    guard verifier.verify(entries: entries, head: short).contains(where: { $0.code == .headSize }) else {
        fatalError("a head over one entry fewer than the log is not caught")
    }
}
