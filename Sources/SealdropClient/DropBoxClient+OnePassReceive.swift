import Foundation
import SealdropCrypto
import SealdropEnvelope
import SealdropFormat
import SealdropIO
import SealdropTrust

/// A receive whose envelope did not verify (or whose output could not be
/// made): nothing was written to the output, and the downloaded ciphertext
/// is kept in the part file, as evidence.
public struct UnverifiedTransfer: Error {
    /// Why: the envelope's, trust store's, drop box's or file system's error.
    public let underlying: Error
    /// The output chosen, for messages; nil if the envelope failed before
    /// its file description verified and no name was chosen.
    public let output: String?
}

extension DropBoxClient {
    /// Downloads transfer `id` and opens it in the same pass: the bytes go
    /// to the part file (for a resume after a cut) and, from memory, to
    /// the opener on a second thread, so the envelope is not read back
    /// from disk. Every property of `download` followed by `open` holds:
    /// the same refusals before any byte is fetched; the whole download
    /// reaches the part file even if the envelope fails early (evidence);
    /// a resumed download opens the part file's bytes first; the output
    /// appears under `name` (chosen from the verified file description)
    /// only once the download completed and every byte verified, and only
    /// then is the id journaled, the part file removed and the receipt
    /// acknowledged.
    ///
    /// Throws the download's error if the download failed (the part file
    /// is kept for a resume), else `UnverifiedTransfer`.
    public func receive(
        _ id: String, into folder: OutputDirectory, part: String, trust: TrustStore, journal: inout ReceivedJournal,
        maximumSize: UInt64 = defaultMaximumDownloadSize, to output: OutputDirectory, overwrite: Bool,
        name: @escaping (FileDescription) throws -> String, events: (ReceiveEvent) -> Void = { _ in }
    ) throws -> ReceivedTransfer {
        let id = try Self.checked(id)
        let job = OnePassOpening(client: self, transfer: id, trust: trust, journal: journal, output: output, overwrite: overwrite, name: name)
        let downloaded: Bool
        do {
            downloaded = try fetch(id, into: folder, part: part, journal: journal, maximumSize: maximumSize, events: events) { have in
                try job.start(prefix: have > 0 ? folder.openForReading(part) : nil, length: have)
            }
        } catch {
            job.wait()
            throw error
        }
        guard downloaded else {
            // Delivered before: the part file holds the whole envelope.
            var chosen: String?
            do {
                let description = try describe(part: part, in: folder, transfer: id, trust: trust, journal: journal)
                let name = try name(description)
                chosen = output.display(name)
                return try open(part: part, in: folder, transfer: id, trust: trust, journal: &journal, to: output, name: name, overwrite: overwrite)
            } catch {
                throw UnverifiedTransfer(underlying: error, output: chosen)
            }
        }
        let opened = job.wait()
        guard case .success(let made)? = opened else {
            if case .failure(let error)? = opened { throw UnverifiedTransfer(underlying: error, output: job.chosen) }
            throw UnverifiedTransfer(underlying: DropBoxError(.localState, "the envelope was not opened"), output: nil)
        }
        do {
            try made.output.commit()
            try journal.record(id)
            try folder.remove(part)
        } catch {
            throw UnverifiedTransfer(underlying: error, output: job.chosen)
        }
        var failure: String?
        do {
            try acknowledge(id, ciphertextSHA256: made.result.envelopeSHA256, plaintextSHA256: made.plaintextSHA256)
        } catch {
            // The file is received whatever the drop box answers; a refusal is only reported.
            failure = (error as? DropBoxError)?.message ?? "\(error)"
        }
        return ReceivedTransfer(
            id: id, sender: made.sender, description: made.result.description, plaintextSize: made.result.plaintextSize,
            output: made.output.destination, acknowledgmentFailure: failure)
    }
}

/// Download bytes on their way to the part file and, from memory, to the
/// opener: the part file first, so a resume never lacks what was opened.
struct TeeSink: ByteSink {
    let file: FileDescriptor
    let pipe: BytePipe

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write([UInt8](bytes))
    }

    mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try file.write($0) }
        // False once the opener gave up: the download goes on to the end
        // of the part file regardless.
        pipe.put(bytes)
    }
}

/// The opener's source: the `length` bytes a part file already held (a
/// resumed download), then what arrives through the pipe.
struct ResumedSource: ByteSource {
    var prefix: FileDescriptor?
    var remaining: UInt64
    let pipe: BytePipe

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let file = prefix, remaining > 0 {
            let want = Int(min(UInt64(buffer.count), remaining))
            let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            guard count > 0 else {
                throw IOError("read", path: "the part file", errno: EIO)
            }
            remaining -= UInt64(count)
            return count
        }
        prefix = nil
        return try pipe.read(into: buffer)
    }
}

/// The opener's side of a one-pass receive: a thread that opens the
/// envelope from the pipe into an unnamed output file and hands back the
/// file, uncommitted, for the downloading thread to commit or drop.
final class OnePassOpening: @unchecked Sendable {
    struct Opened {
        let result: OpenResult
        let output: AtomicOutputFile
        let plaintextSHA256: [UInt8]
        let sender: String
    }

    private let client: DropBoxClient
    private let transfer: String
    private let trust: TrustStore
    private let journal: ReceivedJournal
    private let output: OutputDirectory
    private let overwrite: Bool
    private let name: (FileDescription) throws -> String
    private var thread: JoinableThread?
    // Written by the opening thread before it ends (read after the join).
    private var outcome: Result<Opened, Error>?
    private(set) var chosen: String?

    init(
        client: DropBoxClient, transfer: String, trust: TrustStore, journal: ReceivedJournal, output: OutputDirectory, overwrite: Bool,
        name: @escaping (FileDescription) throws -> String
    ) {
        self.client = client
        self.transfer = transfer
        self.trust = trust
        self.journal = journal
        self.output = output
        self.overwrite = overwrite
        self.name = name
    }

    /// Starts the opening thread; returns the pipe the download feeds.
    func start(prefix: FileDescriptor?, length: UInt64) -> BytePipe {
        let pipe = BytePipe()
        // Handed over: only the opening thread reads it.
        nonisolated(unsafe) let prefix = prefix
        thread = JoinableThread { [self] in
            var source = ResumedSource(prefix: prefix, remaining: length, pipe: pipe)
            outcome = Result { try open(&source) }
            // The download goes on without waiting for a reader that is done.
            pipe.abandon()
        }
        return pipe
    }

    /// Waits for the opening thread, if it was started; its outcome.
    @discardableResult
    func wait() -> Result<Opened, Error>? {
        guard let thread else { return nil }
        thread.join()
        self.thread = nil
        return outcome
    }

    private func open(_ source: inout ResumedSource) throws -> Opened {
        var sender = "?"
        var hashed: HashingSink<AtomicOutputFile>?
        let (result, sink) = try EnvelopeOpener.open(
            from: &source, recipient: client.identity,
            resolveSender: { header in
                let party = try client.bind(header, to: transfer, trust: trust, journal: journal)
                sender = party.name.value
                return party.key
            },
            sink: { _, description in
                let name = try name(description)
                chosen = output.display(name)
                let file = try AtomicOutputFile(in: output, name: name, mode: 0o600, overwrite: overwrite)
                let sink = HashingSink(file)
                hashed = sink
                // The plaintext is hashed and written on a third thread.
                return WriteBehindSink(sink)
            })
        try sink.finish()
        guard let hashed else { throw DropBoxError(.localState, "the envelope was opened without an output") }
        return Opened(result: result, output: hashed.inner, plaintextSHA256: hashed.digest(), sender: sender)
    }
}
