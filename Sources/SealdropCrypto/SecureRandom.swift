internal import CSodium

/// The operating system's secure random source, through libsodium.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        Sodium.ensureReady()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return out
    }

    public static func uint32() -> UInt32 {
        Sodium.ensureReady()
        return randombytes_random()
    }
}
