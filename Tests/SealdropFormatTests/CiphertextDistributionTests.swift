import Foundation
import Testing
import SealdropFormat

/// The byte-distribution test the drop box runs on every sealed message:
/// random data passes, structured plaintext does not, and the stated
/// false-rejection bound is recomputed here from the binomial distribution.
@Suite struct CiphertextDistributionTests {
    static let messageLength = EnvelopeFormat.sealedChunkSize

    /// `text` repeated to a whole sealed message's length.
    static func message(repeating text: String) -> [UInt8] {
        message(repeating: Array(text.utf8))
    }

    static func message(repeating unit: [UInt8]) -> [UInt8] {
        (0..<messageLength).map { unit[$0 % unit.count] }
    }

    static func random(into buffer: inout [UInt8], using generator: inout some RandomNumberGenerator) {
        buffer.withUnsafeMutableBytes { raw in
            let words = raw.count / 8
            for index in 0..<words {
                raw.storeBytes(of: generator.next(), toByteOffset: index * 8, as: UInt64.self)
            }
            for index in (words * 8)..<raw.count {
                raw[index] = UInt8.random(in: 0...255, using: &generator)
            }
        }
    }

    @Test func theSampleFitsEveryMessage() {
        #expect(CiphertextDistribution.sampleLength == 16_384)
        #expect(CiphertextDistribution.minimumMessageLength <= EnvelopeFormat.sealedChunkSize)
        #expect(CiphertextDistribution.minimumMessageLength == 53_249)
    }

    @Test func randomMessagesAreNeverRejected() {
        var generator = SystemRandomNumberGenerator()
        var buffer = [UInt8](repeating: 0, count: Self.messageLength)
        for index in 0..<3_000 {
            Self.random(into: &buffer, using: &generator)
            let finding = CiphertextDistribution.finding(in: buffer)
            #expect(finding == nil, "random message \(index): \(finding.map(String.init(describing:)) ?? "")")
            if finding != nil { return }
        }
    }

    /// Counts of random data sit far inside the band: the band is not tuned to
    /// the edge of what random data reaches.
    @Test func randomCountsStayWellInsideTheBand() {
        var generator = SystemRandomNumberGenerator()
        var buffer = [UInt8](repeating: 0, count: Self.messageLength)
        Self.random(into: &buffer, using: &generator)
        var counts = [Int](repeating: 0, count: 256)
        for window in 0..<CiphertextDistribution.windowCount {
            let start = window * CiphertextDistribution.windowStride
            for index in start..<(start + CiphertextDistribution.windowLength) { counts[Int(buffer[index])] += 1 }
        }
        // Mean 64, standard deviation 8: 8 and 146 are 7 and 10 deviations away.
        #expect(counts.reduce(0, +) == 16_384)
        #expect(counts.min()! > CiphertextDistribution.acceptedCounts.lowerBound)
        #expect(counts.max()! < CiphertextDistribution.acceptedCounts.upperBound)
    }

    static let plaintexts: [(String, [UInt8])] = [
        ("English text", message(repeating: "The outgoing vendor produced a database extract so the incoming vendor could import it. ")),
        (
            "CSV",
            message(repeating: "id;nom;prenom;nir;groupe;vih\n1;DURAND;Marie;2850578006084;O+;0\n2;MARTIN;Paul;1790233012045;A-;1\n")
        ),
        ("SQL", message(repeating: "INSERT INTO patient (id, name, blood_group) VALUES (42, 'Durand', 'O+');\n")),
        ("JSON", message(repeating: #"{"id":42,"name":"Durand","ssn":"1 85 05 78 006 084","hiv":false,"blood":"O+"},"#)),
        ("zero bytes", [UInt8](repeating: 0, count: messageLength)),
        ("0xff bytes", [UInt8](repeating: 0xff, count: messageLength)),
        ("a repeated 4-byte pattern", message(repeating: [0xde, 0xad, 0xbe, 0xef])),
        ("a counter 00 01 … ff", (0..<messageLength).map { UInt8(truncatingIfNeeded: $0) }),
        ("the vector pattern (7i + 3) mod 256", (0..<messageLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }),
        ("UTF-16 text", message(repeating: Array("Résultats d'analyses, laboratoire 12\n".utf16).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] })),
        ("Base64", message(repeating: Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 3) }).base64EncodedString())),
        ("hex", message(repeating: (0..<2000).map { String(format: "%02x", ($0 &* 37) & 0xff) }.joined())),
        ("a 64-byte random block repeated", message(repeating: (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 17 ^ $0 >> 2) })),
    ]

    @Test(arguments: plaintexts.map(\.0))
    func structuredPlaintextIsRejected(_ name: String) throws {
        let bytes = try #require(Self.plaintexts.first { $0.0 == name }?.1)
        #expect(bytes.count == Self.messageLength)
        #expect(CiphertextDistribution.finding(in: bytes) != nil, "\(name) passed as ciphertext")
    }

    @Test func plaintextInOneWindowOfRandomDataIsRejected() {
        var generator = SystemRandomNumberGenerator()
        var buffer = [UInt8](repeating: 0, count: Self.messageLength)
        Self.random(into: &buffer, using: &generator)
        let text = Self.message(repeating: "SELECT * FROM patient;\n")
        buffer.replaceSubrange(32_768..<(32_768 + 4096), with: text.prefix(4096))
        let finding = CiphertextDistribution.finding(in: buffer)
        #expect(finding != nil)
        #expect(finding?.description.contains("16384-byte sample") == true)
    }

    @Test func findingsNameTheValueAndCount() {
        let finding = CiphertextDistribution.finding(in: [UInt8](repeating: 0, count: Self.messageLength))
        #expect(finding?.kind == .byteValue && finding?.value == 0 && finding?.count == 16_384)
        #expect(finding?.description == "byte value 0x00 occurs 16384 times in a 16384-byte sample, where ciphertext has 8 to 146")
    }

    // MARK: - The bound, recomputed

    /// log P(N = k) for N ~ Binomial(n, p).
    static func logProbability(_ k: Int, n: Int, p: Double) -> Double {
        lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1)) + Double(k) * log(p) + Double(n - k) * log1p(-p)
    }

    static func probability(_ range: ClosedRange<Int>, n: Int, p: Double) -> Double {
        range.reduce(0) { $0 + exp(logProbability($1, n: n, p: p)) }
    }

    @Test func theFalseRejectionBoundIsWhatTheSpecStates() {
        let n = CiphertextDistribution.sampleLength
        let p = 1.0 / 256
        let band = CiphertextDistribution.acceptedCounts
        let below = Self.probability(0...(band.lowerBound - 1), n: n, p: p)
        // Terms past 2000 above the mean are below 1e-300: the sum has converged.
        let above = Self.probability((band.upperBound + 1)...(band.upperBound + 2000), n: n, p: p)
        #expect(abs(log2(below) - -62.61) < 0.01, "P(N <= 7) = 2^\(log2(below))")
        #expect(abs(log2(above) - -61.03) < 0.01, "P(N >= 147) = 2^\(log2(above))")
        let perMessage = 512 * (below + above)
        #expect(log2(perMessage) < -51.6, "union bound per message: 2^\(log2(perMessage))")
        #expect(log2(perMessage * Double(1 << 20)) < -31.6, "a 64 GiB upload has 2^20 messages")
        // The band is the narrowest with each tail under 2^-60: one count tighter
        // on either side and a tail exceeds it.
        #expect(Self.probability(0...band.lowerBound, n: n, p: p) > 0x1p-60)
        #expect(Self.probability(band.upperBound...(band.upperBound + 2000), n: n, p: p) > 0x1p-60)
    }
}
