import FuzzSupport
import SealdropFormat
import SealdropSFTP

// Fuzz target: the SFTP framer and decoder, fed any byte stream.
//
// Properties: framing any byte stream never traps; a decoded message encodes
// to bytes that decode to the same message; the encoding of a request is a
// prefix of the packet it came from (the decoder ignores a request's
// trailing bytes) and a reply's encoding is exactly the packet.
@main
enum FuzzSFTP {
    static func main() { fuzzMain(checkSFTP) }
}

func checkSFTP(_ bytes: [UInt8]) {
    // The first byte splits the input into arrival pieces, so framing is
    // exercised across packet boundaries.
    let step = Int(bytes.first ?? 1) % 17 + 1
    var framer = SFTPPacketFramer()
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        framer.append(bytes[offset..<end])
        offset = end
        while true {
            let body: ArraySlice<UInt8>
            do {
                guard let next = try framer.nextPacketBody() else { break }
                body = next
            } catch {
                return  // the stream cannot be resynchronised: the session ends
            }
            checkBody(body)
        }
    }
}

func checkBody(_ body: ArraySlice<UInt8>) {
    guard let message = try? SFTPMessage.decode(body) else { return }
    let encoded = message.encode()
    let reencodedBody = encoded.dropFirst(4)
    guard let again = try? SFTPMessage.decode(reencodedBody), again == message else {
        fatalError("an encoded \(message.packetType) does not decode to the same message")
    }
    guard again.encode() == encoded else {
        fatalError("a \(message.packetType)'s encoding is not stable")
    }
    switch message {
    case .status, .open, .setstat, .fsetstat, .mkdir, .name, .attributes:
        // A status's text is decoded leniently and its language tag is
        // optional; ATTRS may set the extended flag with zero pairs. These
        // are canonical only as values (checked above).
        return
    default:
        break
    }
    if message.packetType.isRequest || message.packetType == .extendedReply {
        guard body.starts(with: reencodedBody) else {
            fatalError("a \(message.packetType) re-encodes to bytes that are not a prefix of its packet")
        }
    } else {
        guard Array(body) == Array(reencodedBody) else {
            fatalError("a \(message.packetType) re-encodes to other bytes")
        }
    }
}
