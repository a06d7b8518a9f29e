import SealdropCrypto
import SealdropIO

/// A sink that hashes (SHA-256) what passes through it on its way on.
public final class HashingSink<Inner: ByteSink>: ByteSink {
    public private(set) var inner: Inner
    private let hasher = SHA256Stream()

    public init(_ inner: Inner) {
        self.inner = inner
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        try inner.write(bytes)
    }

    public func digest() -> [UInt8] { hasher.finalize() }
}
