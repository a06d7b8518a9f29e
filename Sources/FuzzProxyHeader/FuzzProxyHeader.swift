import FuzzSupport
import SealdropProxy

// Fuzz target: the PROXY protocol v2 header parser, fed any bytes.
//
// Properties: neither `bodyLength` nor `decode` traps; a decoded header
// encodes to exactly the bytes it came from; `decode` accepts exactly the
// inputs whose length is the 16 fixed bytes plus the body they announce,
// which is how the server reads a header from a socket.
@main
enum FuzzProxyHeader {
    static func main() { fuzzMain(checkProxyHeader) }
}

func checkProxyHeader(_ bytes: [UInt8]) {
    let announced = try? ProxyHeader.bodyLength(fixedPart: bytes[...])
    guard let header = try? ProxyHeader.decode(bytes) else { return }
    guard let announced, bytes.count == ProxyHeader.fixedLength + announced else {
        fatalError("decode accepted \(bytes.count) bytes that are not the fixed part plus the announced body")
    }
    guard header.encode() == bytes else {
        fatalError("a decoded PROXY header does not encode to its own bytes")
    }
    guard (try? ProxyHeader.decode(header.encode())) == header else {
        fatalError("an encoded PROXY header does not decode to the same value")
    }
    if let client = header.clientAddress, client.isEmpty {
        fatalError("a relayed connection has an empty client address")
    }
}
