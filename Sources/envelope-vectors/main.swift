// Regenerates the envelope v1 test vectors: `ops/gen-vectors` runs it.
// Randomness, keys and times are fixed, so every run writes the same bytes.
@_spi(TestVectors) import SealdropCrypto
import Foundation

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: envelope-vectors OUTPUT-DIRECTORY\n".utf8))
    exit(2)
}
// The seed of the deterministic random source; any fixed value works.
DeterministicRandomness.install(seed: [UInt8](repeating: 0x5e, count: 32))
do {
    try VectorSet.write(to: CommandLine.arguments[1])
} catch {
    FileHandle.standardError.write(Data("envelope-vectors: \(error)\n".utf8))
    exit(1)
}
