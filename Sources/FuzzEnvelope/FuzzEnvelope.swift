import FuzzSupport
import SealdropFormat

// Fuzz target: the envelope's header parser, trailer decoder, file
// description and stream-message framing, all fed from one input.
//
// Properties: nothing traps; a parsed header re-encodes to the bytes it was
// parsed from; every prefix of those bytes asks for more or fails, never
// yields a different header; a decoded trailer re-encodes to its 152 bytes;
// a decoded file description encodes and decodes to itself.
@main
enum FuzzEnvelope {
    static func main() { fuzzMain(checkEnvelope) }
}

func checkEnvelope(_ bytes: [UInt8]) {
    checkHeader(bytes)
    if bytes.count >= EnvelopeFormat.trailerLength {
        let tail = bytes.suffix(EnvelopeFormat.trailerLength)
        if let trailer = try? EnvelopeTrailer.decode(tail), trailer.encoded != Array(tail) {
            fatalError("a decoded trailer re-encodes to other bytes")
        }
    }
    checkStreamMessage(bytes)
}

func checkHeader(_ bytes: [UInt8]) {
    guard case .complete(let signed, let count)? = try? SignedEnvelopeHeader.parse(bytes[...]) else { return }
    guard signed.encoded == Array(bytes.prefix(count)) else {
        fatalError("a parsed header does not keep the bytes it was parsed from")
    }
    let rebuilt = SignedEnvelopeHeader(header: signed.header, signature: signed.signature, version: signed.version)
    guard rebuilt.encoded == signed.encoded else {
        fatalError("a parsed header re-encodes to other bytes")
    }
    // A reader fed piece by piece must never see a complete header early.
    for cut in stride(from: 0, to: count, by: max(1, count / 16)) {
        if case .complete? = try? SignedEnvelopeHeader.parse(bytes.prefix(cut)) {
            fatalError("a header prefix of \(cut) of \(count) bytes parses as complete")
        }
    }
}

func checkStreamMessage(_ bytes: [UInt8]) {
    // The input is the start of one decrypted message; the rest is zeros.
    let size = EnvelopeFormat.chunkSize
    var message = Array(bytes.prefix(size))
    message.append(contentsOf: repeatElement(0, count: size - message.count))
    if let description = try? FileDescription.decode(message) {
        guard (try? FileDescription.decode(description.encode())) == description else {
            fatalError("a decoded file description does not survive encoding")
        }
    }
    let isFinal = (bytes.first ?? 0) & 1 == 1
    if let range = try? StreamMessage.dataRange(in: message, index: 1, expectedOffset: 0, isFinal: isFinal) {
        guard range.lowerBound == EnvelopeFormat.dataFramingLength, range.upperBound <= size else {
            fatalError("a data range \(range) falls outside the message")
        }
    }
}
