internal import CSodium
import Synchronization

/// Replaces libsodium's random source with a deterministic one, so the
/// envelope test-vector generator produces the same files on every run.
///
/// Never for real use: every key and nonce becomes predictable. It must run
/// before anything else touches libsodium, and only the vector generator
/// (a separate process) calls it.
@_spi(TestVectors)
public enum DeterministicRandomness {
    public static func install(seed: [UInt8]) {
        precondition(seed.count == Int(randombytes_SEEDBYTES))
        generator.withLock { $0 = Generator(seed: seed) }
        let result = withUnsafeMutablePointer(to: &implementation) { randombytes_set_implementation($0) }
        precondition(result == 0)
        Sodium.ensureReady()
    }

    /// Each request draws from `randombytes_buf_deterministic` keyed by the
    /// seed hashed with a request counter.
    private struct Generator: Sendable {
        let seed: [UInt8]
        var counter: UInt64 = 0

        mutating func fill(_ buffer: UnsafeMutableRawPointer, _ size: Int) {
            counter += 1
            var input = seed
            withUnsafeBytes(of: counter.bigEndian) { input.append(contentsOf: $0) }
            var requestSeed = [UInt8](repeating: 0, count: 32)
            _ = crypto_generichash(&requestSeed, 32, input, UInt64(input.count), nil, 0)
            randombytes_buf_deterministic(buffer, size, requestSeed)
        }
    }

    private static let generator = Mutex<Generator?>(nil)

    nonisolated(unsafe) private static var implementation = randombytes_implementation(
        implementation_name: { UnsafeRawPointer(StaticString("sealdrop-test-vectors").utf8Start).assumingMemoryBound(to: CChar.self) },
        random: {
            var value: UInt32 = 0
            withUnsafeMutableBytes(of: &value) { DeterministicRandomness.fill($0.baseAddress!, 4) }
            return value
        },
        stir: nil,
        uniform: nil,
        buf: { buffer, size in DeterministicRandomness.fill(buffer!, size) },
        close: nil
    )

    private static func fill(_ buffer: UnsafeMutableRawPointer, _ size: Int) {
        generator.withLock { state in
            guard state != nil else { fatalError("deterministic randomness used before install") }
            state!.fill(buffer, size)
        }
    }
}
