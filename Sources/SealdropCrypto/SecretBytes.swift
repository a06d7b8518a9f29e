internal import CSodium

/// Key material in memory that this type alone owns and wipes with
/// `sodium_memzero` when it is released. It is never printed.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible {
    // Written only during init and deinit, when no one else can read it.
    private let storage: UnsafeMutableRawBufferPointer
    public let count: Int

    /// Copies `bytes` in; the caller should drop its copy.
    public init<C: Collection<UInt8>>(copying bytes: C) {
        count = bytes.count
        storage = .allocate(byteCount: max(bytes.count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        storage.copyBytes(from: bytes)
    }

    /// Fills `count` bytes by calling `body` on zeroed storage.
    init(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws(CryptoError) -> Void) throws(CryptoError) {
        // Work on a local buffer: once every stored property is set, a throw
        // would run deinit as well, and the buffer would be freed twice.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try body(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        } catch {
            sodium_memzero(buffer.baseAddress, buffer.count)
            buffer.deallocate()
            throw error
        }
        self.count = count
        storage = buffer
    }

    deinit {
        sodium_memzero(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    /// Read-only access for the duration of `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
}
