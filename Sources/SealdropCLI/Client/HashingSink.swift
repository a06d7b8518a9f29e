import SealdropCrypto
import SealdropIO

/// A sink that hashes (SHA-256) what passes through it on its way on.
final class HashingSink<Inner: ByteSink>: ByteSink {
    private(set) var inner: Inner
    private let hasher = SHA256Stream()

    init(_ inner: Inner) {
        self.inner = inner
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        try inner.write(bytes)
    }

    func digest() -> [UInt8] { hasher.finalize() }
}
