import SealdropFormat
import SealdropIO

/// Reads exactly the signed header from the start of a stream, no further,
/// so the stream is left at the first chunk.
public enum EnvelopeHeaderReader {
    public static func read<Source: ByteSource>(from source: inout Source) throws -> SignedEnvelopeHeader {
        var bytes = [UInt8]()
        var wanted = EnvelopeFormat.preambleLength
        while true {
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: wanted - start))
            let count = try bytes.withUnsafeMutableBytes { buffer in
                try source.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
            }
            bytes.removeLast(wanted - start - count)
            if bytes.count < wanted {
                // Out of input: decode() names what is missing (or wrong).
                return try SignedEnvelopeHeader.decode(bytes[...]).0
            }
            switch try SignedEnvelopeHeader.parse(bytes[...]) {
            case .complete(let header, _):
                return header
            case .needsMore(let atLeast):
                wanted = atLeast
            }
        }
    }
}
