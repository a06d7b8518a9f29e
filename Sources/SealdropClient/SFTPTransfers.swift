import SealdropIO
import SealdropSFTP

/// A `ByteSink` that uploads through an open SFTP handle, with up to
/// `SFTPClient.pipelineDepth` WRITE requests in flight. The sealer writes
/// the envelope straight into it: no temporary file on the sender's disk.
public final class SFTPUploadSink: ByteSink {
    private let client: SFTPClient
    private let handle: [UInt8]
    private var block: [UInt8] = []
    private var offset: UInt64 = 0
    private var inFlight = 0
    public private(set) var bytesSent: UInt64 = 0
    /// Called after each acknowledged block with the bytes acknowledged so far.
    public var progress: ((UInt64) -> Void)?
    private var acknowledged: UInt64 = 0

    public init(client: SFTPClient, handle: [UInt8]) {
        self.client = client
        self.handle = handle
        block.reserveCapacity(SFTPClient.blockSize)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var index = 0
        while index < bytes.count {
            let take = min(SFTPClient.blockSize - block.count, bytes.count - index)
            block.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
            index += take
            if block.count == SFTPClient.blockSize { try flushBlock() }
        }
    }

    /// Sends what is buffered and waits for every acknowledgement.
    public func finish() throws {
        if !block.isEmpty { try flushBlock() }
        while inFlight > 0 { try awaitReply() }
    }

    private func flushBlock() throws {
        if inFlight >= SFTPClient.pipelineDepth { try awaitReply() }
        let data = block
        let at = offset
        _ = try client.post { .write(id: $0, handle: self.handle, offset: at, data: data) }
        offset += UInt64(data.count)
        bytesSent = offset
        inFlight += 1
        block.removeAll(keepingCapacity: true)
    }

    private func awaitReply() throws {
        let reply = try client.nextMessage()
        guard case .status(_, let code, let message) = reply else { throw SFTPClient.unexpected(reply, to: "WRITE") }
        guard code == .ok else { throw SFTPClient.refusal(code, message, "the drop box refused the upload (\(code))") }
        inFlight -= 1
        acknowledged = min(offset, acknowledged + UInt64(SFTPClient.blockSize))
        progress?(acknowledged)
    }
}

extension SFTPClient {
    /// Downloads `handle` from `start` to `size` into `sink`, in order, with
    /// up to `pipelineDepth` READ requests in flight.
    public func download<Sink: ByteSink>(
        _ handle: [UInt8], from start: UInt64, size: UInt64, to sink: inout Sink,
        progress: (UInt64) -> Void = { _ in }
    ) throws {
        var nextOffset = start
        var written = start
        var pending: [UInt32: (offset: UInt64, length: UInt32)] = [:]
        var arrived: [UInt64: [UInt8]] = [:]
        func request(_ at: UInt64, _ length: UInt32) throws {
            let id = try self.post { .read(id: $0, handle: handle, offset: at, length: length) }
            pending[id] = (at, length)
        }
        func fill() throws {
            while pending.count < Self.pipelineDepth, nextOffset < size {
                let length = UInt32(min(UInt64(Self.blockSize), size - nextOffset))
                try request(nextOffset, length)
                nextOffset += UInt64(length)
            }
        }
        try fill()
        while written < size {
            let reply = try nextMessage()
            guard let id = reply.requestID, let asked = pending.removeValue(forKey: id) else {
                throw DropBoxError(.protocolViolation, "the drop box answered a READ that was not asked")
            }
            switch reply {
            case .data(_, let data):
                guard !data.isEmpty, data.count <= Int(asked.length) else {
                    throw DropBoxError(.protocolViolation, "the drop box sent \(data.count) bytes for a READ of \(asked.length)")
                }
                arrived[asked.offset] = data
                if data.count < Int(asked.length) {
                    // A short read: ask for the rest of that block.
                    try request(asked.offset + UInt64(data.count), asked.length - UInt32(data.count))
                }
            case .status(_, let code, let message):
                throw SFTPClient.refusal(code, message, "the download stopped at byte \(asked.offset) (\(code))")
            default:
                throw SFTPClient.unexpected(reply, to: "READ")
            }
            while let data = arrived.removeValue(forKey: written) {
                try sink.write(data)
                written += UInt64(data.count)
                progress(written)
            }
            try fill()
        }
    }
}
