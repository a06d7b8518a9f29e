import Foundation

/// Where the committed fixtures and the built executables are.
public enum Fixtures {
    /// The repository root, from this file's location.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static let envelopeVectors = root + "/Tests/Vectors/envelope-v1"

    /// The build products directory: the test bundle sits beside the executables.
    public static let productsDirectory: String = {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var url = executable
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.path + "/sealdrop") { return url.path }
        }
        return root + "/.build/debug"
    }()

    public static var sealdrop: String { productsDirectory + "/sealdrop" }
    public static var sealdropd: String { productsDirectory + "/sealdropd" }

    /// Deterministic pseudo-random bytes for test inputs.
    public static func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: count)
        for index in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            out[index] = UInt8(truncatingIfNeeded: state)
        }
        return out
    }
}
