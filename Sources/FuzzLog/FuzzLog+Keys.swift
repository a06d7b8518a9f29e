import SealdropCrypto
import SealdropFormat
@_spi(TestVectors) import SealdropLog

/// The keys the checks sign and verify with: the receipt key of the log
/// vectors (so vector heads verify) and one vendor, `acme`. Made once.
enum FuzzKeys {
    static let receipt = LogVectors.key()
    static let vendor = try! Ed25519PrivateKey(seed: SecretBytes(copying: [UInt8](repeating: 0x2e, count: 32)))
    static let vendorName = "acme"
}
