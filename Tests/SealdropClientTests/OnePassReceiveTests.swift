import Foundation
import SealdropClient
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import Testing
import TestSupport

/// `receive`: the download and the opening in one pass. Everything the two
/// steps promised apart still holds: a cut download resumes from its part
/// file, nothing appears under the output name unless every byte verified,
/// and a failed envelope leaves the whole ciphertext as evidence.
@Suite struct OnePassReceiveTests {
    struct Run {
        let fixture: HostileFixture
        let dropBox: DropBoxClient
        let folder: OutputDirectory
        var journal: ReceivedJournal

        init(_ fixture: HostileFixture, timeout: Int = 3) throws {
            self.fixture = fixture
            dropBox = try fixture.client(timeout: timeout)
            folder = try OutputDirectory(path: fixture.directory.path)
            journal = try ReceivedJournal(file: fixture.directory.file("journal"))
        }

        mutating func receive(_ id: String, name: String = "out", events: (ReceiveEvent) -> Void = { _ in }) throws -> ReceivedTransfer {
            let trust = try fixture.trustStore(dropBox)
            return try dropBox.receive(
                id, into: folder, part: ".out.part", trust: trust, journal: &journal, to: folder, overwrite: false, name: { _ in name },
                events: events)
        }
    }

    /// The verification failure `body` throws, with what it wraps.
    func unverified(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> UnverifiedTransfer? {
        do {
            try body()
            Issue.record("the receive succeeded", sourceLocation: sourceLocation)
        } catch let failure as UnverifiedTransfer {
            return failure
        } catch {
            Issue.record("expected an unverified transfer, got \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    @Test func aTransferIsDecryptedAsItDownloads() throws {
        let fixture = try HostileFixture()
        let plaintext = Fixtures.bytes(3 << 20, seed: 21)
        let (envelope, id) = try fixture.seal(plaintext, name: "report.csv")
        fixture.offer(envelope, as: id)
        var run = try Run(fixture)
        var names: [String] = []
        let trust = try fixture.trustStore(run.dropBox)
        let received = try run.dropBox.receive(
            id, into: run.folder, part: ".out.part", trust: trust, journal: &run.journal, to: run.folder, overwrite: false,
            name: { description in
                names.append(description.fileName)
                return "named-" + description.fileName
            })
        #expect(names == ["report.csv"], "the name is chosen once, from the verified description")
        #expect(fixture.read("named-report.csv") == plaintext)
        #expect(received.plaintextSize == UInt64(plaintext.count))
        #expect(received.acknowledgmentFailure == nil)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file(".out.part")))
        #expect(try ReceivedJournal(file: fixture.directory.file("journal")).contains(id))
        // The receipt names the envelope's and the plaintext's hashes.
        #expect(fixture.server.written.keys.contains { $0.hasPrefix("/receipts/") })
    }

    /// A download cut in the middle keeps its part file and writes no
    /// output; the next run opens the part file's bytes, then the rest.
    @Test func aCutDownloadResumesAndOpensBothParts() throws {
        let fixture = try HostileFixture()
        let plaintext = Fixtures.bytes(3 << 20, seed: 22)
        let (envelope, id) = try fixture.seal(plaintext)
        fixture.offer(envelope, as: id)
        fixture.server.stallReadsFrom = 1 << 20
        var first = try Run(fixture, timeout: 1)
        do {
            _ = try first.receive(id)
            Issue.record("a stalled download succeeded")
        } catch is UnverifiedTransfer {
            Issue.record("a cut download is not a verification failure")
        } catch {}
        let part = fixture.read(".out.part")
        #expect(part.count >= 1 << 20 && part.count < envelope.count, "\(part.count)")
        #expect(part == Array(envelope.prefix(part.count)))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("out")))

        fixture.server.stallReadsFrom = nil
        var second = try Run(fixture)
        var resumedAt: UInt64?
        _ = try second.receive(id) { event in
            if case .resuming(let at, _) = event { resumedAt = at }
        }
        #expect(resumedAt == UInt64(part.count))
        #expect(fixture.read("out") == plaintext)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file(".out.part")))
    }

    /// A chunk altered in the middle: nothing under the output name (not
    /// even the verified chunks before it), the whole ciphertext kept.
    @Test func anAlteredChunkWritesNothingAndKeepsTheWholeCiphertext() throws {
        let fixture = try HostileFixture()
        var (envelope, id) = try fixture.seal(Fixtures.bytes(3 << 20, seed: 23))
        envelope[envelope.count / 2] ^= 0x01
        fixture.offer(envelope, as: id)
        var run = try Run(fixture)
        let before = fixture.allFiles()
        let failure = unverified { _ = try run.receive(id) }
        #expect((failure?.underlying as? EnvelopeError)?.code == .chunkAuthenticationFailed, "\(String(describing: failure))")
        #expect(failure?.output == run.folder.display("out"))
        #expect(fixture.read(".out.part") == envelope, "the download went on to the end")
        #expect(fixture.allFiles().subtracting(before) == [".out.part"])
        #expect(try !ReceivedJournal(file: fixture.directory.file("journal")).contains(id))
    }

    /// Another transfer's envelope served under the id asked for is refused
    /// at its header; no output name is chosen.
    @Test func theWrongEnvelopeIsRefusedBeforeAnyNameIsChosen() throws {
        let fixture = try HostileFixture()
        let (envelope, _) = try fixture.seal(Fixtures.bytes(100_000, seed: 24))
        let asked = String(repeating: "e2", count: 16)
        fixture.offer(envelope, as: asked)
        var run = try Run(fixture)
        let failure = unverified { _ = try run.receive(asked) }
        #expect((failure?.underlying as? DropBoxError)?.code == .wrongEnvelope, "\(String(describing: failure))")
        #expect(failure?.output == nil)
        #expect(fixture.read(".out.part") == envelope)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("out")))
    }

    /// Bytes after the trailer (the drop box claims a longer file): refused
    /// once the download ends, nothing written.
    @Test func bytesAfterTheTrailerWriteNothing() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(200_000, seed: 25))
        fixture.offer(envelope + [0], as: id)
        var run = try Run(fixture)
        let failure = unverified { _ = try run.receive(id) }
        #expect((failure?.underlying as? EnvelopeError)?.code == .trailingData, "\(String(describing: failure))")
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("out")))
        #expect(fixture.read(".out.part") == envelope + [0])
    }

    /// A name the chooser refuses (taken, say) fails the receive like a bad
    /// envelope: nothing written, ciphertext kept.
    @Test func aRefusedNameWritesNothing() throws {
        let fixture = try HostileFixture()
        let (envelope, id) = try fixture.seal(Fixtures.bytes(100_000, seed: 26))
        fixture.offer(envelope, as: id)
        _ = try fixture.directory.write([1, 2, 3], to: "out")
        var run = try Run(fixture)
        let failure = unverified { _ = try run.receive(id) }
        #expect(failure?.underlying is IOError, "\(String(describing: failure))")
        #expect(fixture.read("out") == [1, 2, 3])
        #expect(fixture.read(".out.part") == envelope)
    }
}
