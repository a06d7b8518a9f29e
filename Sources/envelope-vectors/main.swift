// Regenerates the envelope test vectors: `ops/gen-vectors` runs it once per
// format version. Randomness, keys and times are fixed, so every run writes
// the same bytes.
@_spi(TestVectors) import SealdropCrypto
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3, let version = ["v1": UInt16(1), "v2": UInt16(2)][arguments[1]] else {
    FileHandle.standardError.write(Data("usage: envelope-vectors v1|v2 OUTPUT-DIRECTORY\n".utf8))
    exit(2)
}
// The seed of the deterministic random source; any fixed value works, one
// per version so that each set stands alone (v1 keeps its original seed).
DeterministicRandomness.install(seed: [UInt8](repeating: version == 1 ? 0x5e : 0x5f, count: 32))
do {
    try VectorSet.write(to: arguments[2], version: version)
} catch {
    FileHandle.standardError.write(Data("envelope-vectors: \(error)\n".utf8))
    exit(1)
}
