import SealdropIO
import SealdropSFTP

/// A `ByteSink` that uploads through an open SFTP handle, with up to
/// `SFTPClient.transferPipelineDepth` WRITE requests in flight. The sealer writes
/// the envelope straight into it: no temporary file on the sender's disk.
///
/// Each byte is copied once, into a buffer that is already the WRITE
/// packet: the packet's prefix is filled in front of the data when the
/// block is full, and the buffer goes to the channel as it is.
public final class SFTPUploadSink: ByteSink {
    private let client: SFTPClient
    private let handle: [UInt8]
    private let prefixLength: Int
    /// The WRITE packet being filled: prefix space, then up to a block of data.
    private var packet: [UInt8]
    private var filled = 0
    private var offset: UInt64 = 0
    /// Request ids of the WRITEs not yet acknowledged.
    private var inFlight: Set<UInt32> = []
    public private(set) var bytesSent: UInt64 = 0
    /// Called after each acknowledged block with the bytes acknowledged so far.
    public var progress: ((UInt64) -> Void)?
    private var acknowledged: UInt64 = 0

    public init(client: SFTPClient, handle: [UInt8]) {
        self.client = client
        self.handle = handle
        prefixLength = SFTPMessage.writePrefixLength(handleCount: handle.count)
        packet = [UInt8](repeating: 0, count: prefixLength + SFTPClient.transferBlockSize)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var index = 0
        while index < bytes.count {
            let take = min(SFTPClient.transferBlockSize - filled, bytes.count - index)
            let at = prefixLength + filled
            packet.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[at..<(at + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
            }
            filled += take
            index += take
            if filled == SFTPClient.transferBlockSize { try flushBlock() }
        }
    }

    /// Sends what is buffered and waits for every acknowledgement.
    public func finish() throws {
        if filled > 0 { try flushBlock() }
        while !inFlight.isEmpty { try awaitReply() }
    }

    private func flushBlock() throws {
        if inFlight.count >= SFTPClient.transferPipelineDepth { try awaitReply() }
        let count = filled
        let at = offset
        let id = try client.post(encoded: { id in
            let prefix = SFTPMessage.writePrefix(id: id, handle: self.handle, offset: at, dataCount: count)
            self.packet.withUnsafeMutableBytes { target in
                prefix.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: target[0..<self.prefixLength]).copyMemory(from: $0) }
            }
            // A full block goes as it is; only the last, shorter one is cut.
            return count == SFTPClient.transferBlockSize ? self.packet : Array(self.packet[0..<(self.prefixLength + count)])
        })
        inFlight.insert(id)
        offset += UInt64(count)
        bytesSent = offset
        filled = 0
    }

    private func awaitReply() throws {
        let reply = try client.nextMessage()
        guard case .status(let id, let code, let message) = reply else { throw SFTPClient.unexpected(reply, to: "WRITE") }
        // An answer to a WRITE never made (or answered twice) would count a block as stored that was not.
        guard inFlight.remove(id) != nil else {
            throw DropBoxError(.protocolViolation, "the drop box acknowledged a WRITE that was not made (request \(id))")
        }
        guard code == .ok else { throw SFTPClient.refusal(code, message, "the drop box refused the upload (\(code))") }
        acknowledged = min(offset, acknowledged + UInt64(SFTPClient.transferBlockSize))
        progress?(acknowledged)
    }
}

extension SFTPClient {
    /// Downloads `handle` from `start` to `size` into `sink`, in order, with
    /// up to `transferPipelineDepth` READs of `transferBlockSize` in flight.
    ///
    /// Two bounds hold whatever the drop box answers, and in whatever
    /// order: nothing is asked beyond `transferPipelineDepth` blocks past the first
    /// byte not yet written (so a withheld block makes the client wait, and
    /// time out, instead of buffering the rest of the file), and no block
    /// is accepted in more than `maximumPiecesPerBlock` pieces (so a drop
    /// box answering one byte at a time is refused instead of costing a
    /// round trip per byte). `afterEachAnswer` sees the bytes written after
    /// every answer, and may throw to give up.
    public func download<Sink: ByteSink>(
        _ handle: [UInt8], from start: UInt64, size: UInt64, to sink: inout Sink,
        progress: (UInt64) -> Void = { _ in }, afterEachAnswer: (UInt64) throws -> Void = { _ in }
    ) throws {
        let window = UInt64(Self.transferPipelineDepth * Self.transferBlockSize)
        var nextOffset = start
        var written = start
        var pending: [UInt32: (offset: UInt64, length: UInt32, piece: Int)] = [:]
        var arrived: [UInt64: [UInt8]] = [:]
        func request(_ at: UInt64, _ length: UInt32, piece: Int) throws {
            let id = try self.post { .read(id: $0, handle: handle, offset: at, length: length) }
            pending[id] = (at, length, piece)
        }
        func fill() throws {
            while pending.count < Self.transferPipelineDepth, nextOffset < size, nextOffset - written < window {
                let length = UInt32(min(UInt64(Self.transferBlockSize), size - nextOffset))
                try request(nextOffset, length, piece: 1)
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
                    guard asked.piece < Self.maximumPiecesPerBlock else {
                        throw DropBoxError(
                            .protocolViolation,
                            "the drop box sent the block at byte \(asked.offset) in more than \(Self.maximumPiecesPerBlock) pieces; a download that slow was refused"
                        )
                    }
                    // A short read: ask for the rest of that block.
                    try request(asked.offset + UInt64(data.count), asked.length - UInt32(data.count), piece: asked.piece + 1)
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
            try afterEachAnswer(written)
            try fill()
        }
    }
}
