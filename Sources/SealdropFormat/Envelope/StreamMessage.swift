/// The plaintext layout of the messages inside the encrypted stream.
///
/// Every message is exactly `EnvelopeFormat.chunkSize` bytes before
/// encryption, so the ciphertext length tells an observer nothing finer than
/// the number of 64 KiB chunks.
///
/// - message 0, tag MESSAGE: the file description (`FileDescription`);
/// - messages 1…n-1, tag MESSAGE: `uint32 length` = capacity, `uint64 offset`, data;
/// - message n, tag FINAL: `uint32 length` ≤ capacity, `uint64 offset`, data, zero padding.
public enum StreamMessage {
    /// Writes the framing of a data message into the first 12 bytes of
    /// `message`, whose data already sits at `dataFramingLength`.
    public static func writeFraming(into message: inout [UInt8], dataLength: Int, offset: UInt64) {
        precondition(message.count == EnvelopeFormat.chunkSize && dataLength <= EnvelopeFormat.chunkDataCapacity)
        var writer = WireWriter(reservingCapacity: EnvelopeFormat.dataFramingLength)
        writer.writeUInt32(UInt32(dataLength))
        writer.writeUInt64(offset)
        message.replaceSubrange(0..<EnvelopeFormat.dataFramingLength, with: writer.bytes)
        let paddingStart = EnvelopeFormat.dataFramingLength + dataLength
        for index in paddingStart..<message.count where message[index] != 0 {
            message[index] = 0
        }
    }

    /// Checks a decrypted data message and returns the range of its file data.
    ///
    /// - Parameters:
    ///   - index: the message's position in the stream, for error messages.
    ///   - expectedOffset: file bytes already delivered before this message.
    ///   - isFinal: whether the message carried the FINAL tag.
    public static func dataRange(
        in message: [UInt8], index: UInt64, expectedOffset: UInt64, isFinal: Bool
    ) throws(EnvelopeError) -> Range<Int> {
        guard message.count == EnvelopeFormat.chunkSize else {
            throw .malformedChunk(index, "it holds \(message.count) bytes instead of \(EnvelopeFormat.chunkSize)")
        }
        var reader = WireReader(message.prefix(EnvelopeFormat.dataFramingLength))
        let length = Int((try? reader.readUInt32()) ?? UInt32.max)
        let offset = (try? reader.readUInt64()) ?? UInt64.max
        let capacity = EnvelopeFormat.chunkDataCapacity
        if isFinal {
            guard length <= capacity else {
                throw .malformedChunk(index, "it declares \(length) data bytes, more than the capacity of \(capacity)")
            }
        } else {
            guard length == capacity else {
                throw .malformedChunk(index, "a chunk before the last must carry exactly \(capacity) data bytes, not \(length)")
            }
        }
        guard offset == expectedOffset else {
            throw .malformedChunk(index, "it declares file offset \(offset) where \(expectedOffset) was expected")
        }
        let end = EnvelopeFormat.dataFramingLength + length
        guard message[end...].allSatisfy({ $0 == 0 }) else {
            throw .malformedChunk(index, "its padding is not all zeros")
        }
        return EnvelopeFormat.dataFramingLength..<end
    }
}
