/// Somewhere bytes come from: a file, standard input, a network channel.
public protocol ByteSource {
    /// Reads up to `buffer.count` bytes; returns 0 only at the end.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Somewhere bytes go.
public protocol ByteSink {
    /// Writes all of `bytes` or throws.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Writes all of `bytes` or throws. A sink that keeps what it is given
    /// (a `BytePipe` behind it) takes the array as it is, without a copy.
    mutating func write(_ bytes: [UInt8]) throws
}

extension ByteSource {
    /// Fills `buffer` unless the source ends first; returns how many bytes were read.
    /// Pipes and sockets return short reads, so a single `read` is not enough.
    public mutating func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if count == 0 { break }
            filled += count
        }
        return filled
    }
}

extension ByteSink {
    public mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// An in-memory source, for tests and small inputs.
public struct MemorySource: ByteSource {
    private var remaining: ArraySlice<UInt8>

    public init(_ bytes: [UInt8]) {
        remaining = bytes[...]
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(buffer.count, remaining.count)
        buffer.copyBytes(from: remaining.prefix(count))
        remaining = remaining.dropFirst(count)
        return count
    }
}

/// An in-memory sink, for tests and small outputs.
public struct MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }
}
