import Foundation
import SealdropCrypto
import SealdropFormat
import SealdropLog

/// The vendors' signed statements. Properties: a decoded statement
/// survives encoding; checking its signature and fields answers, never
/// traps; the same fields signed by the vendor's key verify with that key
/// and not with the receipt key.
func checkStatements(_ bytes: [UInt8]) {
    if let ack = decodeStable(Acknowledgment.self, bytes) {
        _ = ack.isSigned(by: FuzzKeys.vendor.publicKey)
        if let message = Acknowledgment.signingMessage(
            transfer: ack.transfer, ciphertextSHA256: ack.ciphertextSHA256, plaintextSHA256: ack.plaintextSHA256, time: ack.time)
        {
            var signed = ack
            signed.signature = Hex.encode(FuzzKeys.vendor.signature(for: message))
            guard signed.isSigned(by: FuzzKeys.vendor.publicKey), !signed.isSigned(by: FuzzKeys.receipt.publicKey) else {
                fatalError("an acknowledgment's signature does not check out as it should")
            }
        }
    }
    if let declaration = decodeStable(Declaration.self, bytes) {
        _ = declaration.problem
        _ = declaration.isSigned(by: FuzzKeys.vendor.publicKey)
        var signed = declaration
        signed.signature = Hex.encode(FuzzKeys.vendor.signature(for: declaration.signingMessage()))
        guard signed.isSigned(by: FuzzKeys.vendor.publicKey), !signed.isSigned(by: FuzzKeys.receipt.publicKey) else {
            fatalError("a declaration's signature does not check out as it should")
        }
    }
}
