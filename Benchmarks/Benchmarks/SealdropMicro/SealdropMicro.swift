import Benchmark
import Foundation
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropKeys
import SealdropSFTP

/// The hot paths of a transfer, one at a time: what an SFTP packet, a
/// secretstream message, a SHA-256 block and an envelope header cost.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        maxDuration: .seconds(3),
        maxIterations: 100_000
    )

    let block = [UInt8](repeating: 0xA5, count: 65_536)
    let handle = [UInt8](repeating: 7, count: 4)

    Benchmark("SFTP WRITE encode (64 KiB)") { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(SFTPMessage.write(id: UInt32(truncatingIfNeeded: index), handle: handle, offset: 0, data: block).encode())
        }
    }

    let writePacket = SFTPMessage.write(id: 1, handle: handle, offset: 1 << 20, data: block).encode()
    Benchmark("SFTP WRITE frame+decode (64 KiB)") { benchmark in
        for _ in benchmark.scaledIterations {
            var framer = SFTPPacketFramer()
            framer.append(writePacket)
            blackHole(try framer.nextPacket())
        }
    }

    let dataPacket = SFTPMessage.data(id: 1, data: block).encode()
    Benchmark("SFTP DATA frame+decode (64 KiB)") { benchmark in
        for _ in benchmark.scaledIterations {
            var framer = SFTPPacketFramer()
            framer.append(dataPacket)
            blackHole(try framer.nextPacket())
        }
    }

    Benchmark("SFTP READ encode+decode") { benchmark in
        for index in benchmark.scaledIterations {
            let packet = SFTPMessage.read(id: UInt32(truncatingIfNeeded: index), handle: handle, offset: 1 << 30, length: 65_536).encode()
            var framer = SFTPPacketFramer()
            framer.append(packet)
            blackHole(try framer.nextPacket())
        }
    }

    // One envelope chunk: 64 KiB of plaintext into 64 KiB + 17 bytes.
    let additionalData = Digest.sha256([UInt8]("header".utf8))
    Benchmark("secretstream seal (one 64 KiB chunk)") { benchmark in
        let pusher = try SecretStreamPusher(key: SecretStream.generateKey())
        var sealed = [UInt8](repeating: 0, count: block.count + SecretStream.overhead)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            block.withUnsafeBytes { message in
                sealed.withUnsafeMutableBytes { pusher.push(message, additionalData: additionalData, tag: .message, into: $0) }
            }
        }
        blackHole(sealed)
    }

    // A stream is opened in order: 64 chunks are sealed beforehand and
    // each iteration opens all of them with a new puller.
    let key = SecretStream.generateKey()
    let streamPusher = try! SecretStreamPusher(key: key)
    let chunks: [[UInt8]] = (0..<64).map { _ in
        var sealed = [UInt8](repeating: 0, count: block.count + SecretStream.overhead)
        block.withUnsafeBytes { message in
            sealed.withUnsafeMutableBytes { streamPusher.push(message, additionalData: additionalData, tag: .message, into: $0) }
        }
        return sealed
    }
    Benchmark("secretstream open (64 chunks of 64 KiB)", configuration: .init(maxIterations: 2_000)) { benchmark in
        var opened = [UInt8](repeating: 0, count: block.count)
        for _ in benchmark.scaledIterations {
            let puller = try SecretStreamPuller(key: key, header: streamPusher.header)
            for chunk in chunks {
                _ = try chunk.withUnsafeBytes { sealed in
                    try opened.withUnsafeMutableBytes { try puller.pull(sealed, additionalData: additionalData, into: $0) }
                }
            }
        }
        blackHole(opened)
    }

    let mebibyte = [UInt8](repeating: 0x3C, count: 1 << 20)
    Benchmark("SHA-256 (1 MiB)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Digest.sha256(mebibyte))
        }
    }

    // A real envelope's signed header, sealed once.
    let sender = VendorIdentity.generate()
    let recipient = VendorIdentity.generate()
    var plain = MemorySource([UInt8](repeating: 1, count: 1000))
    var envelope = MemorySink()
    _ = try! EnvelopeSealer.seal(
        from: &plain, to: &envelope, sender: sender,
        request: SealRequest(
            recipient: recipient.publicKey, description: try! FileDescription(fileName: "bench.bin"), expires: Date().addingTimeInterval(86_400)))
    let envelopeBytes = envelope.bytes
    Benchmark("envelope header parse") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SignedEnvelopeHeader.decode(envelopeBytes[...]))
        }
    }
}
