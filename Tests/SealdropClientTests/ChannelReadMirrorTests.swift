import Testing

@testable import SealdropSSH

/// The server's copy of libssh's unread channel buffer, against a model of
/// that buffer: packets appended at the back, reads taken from the front.
@Suite struct ChannelReadMirrorTests {
    /// libssh's unread buffer as the data callback is shown it.
    struct LibSSHBuffer {
        var unread: [UInt8] = []
        var next: UInt8 = 0

        mutating func receive(_ count: Int) {
            for _ in 0..<count {
                unread.append(next)
                next &+= 7
            }
        }

        mutating func read(_ count: Int) -> [UInt8] {
            let taken = Array(unread.prefix(count))
            unread.removeFirst(taken.count)
            return taken
        }
    }

    @Test(arguments: 0..<20)
    func theCopyHoldsExactlyWhatTheReaderHasNotTaken(_ seed: Int) {
        var random = SeededRandom(seed: UInt64(seed) + 1)
        var libssh = LibSSHBuffer()
        var mirror = ChannelReadMirror()
        for _ in 0..<200 {
            if random.below(2) == 0 {
                libssh.receive(1 + random.below(40_000))
                libssh.unread.withUnsafeBytes { mirror.saw($0) }
            } else {
                mirror.consumed(libssh.read(random.below(70_000)).count)
            }
            #expect(mirror.count == libssh.unread.count)
        }
        // libssh refuses to hand the rest over: the copy gives the same bytes, in pieces.
        var served = [UInt8]()
        var piece = [UInt8](repeating: 0, count: 1 + random.below(50_000))
        while true {
            let count = piece.withUnsafeMutableBytes { mirror.take(into: $0) }
            if count == 0 { break }
            served += piece[0..<count]
        }
        #expect(served == libssh.unread)
        #expect(!mirror.isBroken)
    }

    /// A buffer shorter than the copy means bytes left libssh unseen: the
    /// copy is never served then (a lost request fails safe, a wrong byte
    /// would not).
    @Test func aBufferThatShrankUnseenIsNeverServed() {
        var mirror = ChannelReadMirror()
        let first = [UInt8](repeating: 1, count: 100)
        first.withUnsafeBytes { mirror.saw($0) }
        let shorter = [UInt8](repeating: 2, count: 10)
        shorter.withUnsafeBytes { mirror.saw($0) }
        #expect(mirror.isBroken)
        var destination = [UInt8](repeating: 0, count: 200)
        #expect(destination.withUnsafeMutableBytes { mirror.take(into: $0) } == 0)
    }

    @Test func takingMoreThanWasCopiedBreaksTheCopy() {
        var mirror = ChannelReadMirror()
        [UInt8](repeating: 3, count: 10).withUnsafeBytes { mirror.saw($0) }
        mirror.consumed(11)
        #expect(mirror.isBroken)
    }

    /// SplitMix64: the same cases on every run.
    struct SeededRandom {
        var state: UInt64
        init(seed: UInt64) { state = seed }

        mutating func below(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var value = state
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            value ^= value >> 31
            return Int(value % UInt64(bound))
        }
    }
}
