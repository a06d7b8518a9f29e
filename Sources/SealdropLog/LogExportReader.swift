import Foundation
import SealdropFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a log export from a file one line at a time: the header, then
/// each entry handed over as it is read, so memory holds one read buffer
/// and one line, whatever the log's size. A legacy one-document bundle
/// (`sealdrop-log-v1`) is still read, whole.
public final class LogExportReader {
    /// How much is read from the file at once.
    public static let chunkSize = 1 << 20

    public let path: String
    public private(set) var header: LogExport.Header
    /// Set when the file is a legacy bundle: its entries, already in memory.
    private var legacyEntries: [[UInt8]]?
    private let descriptor: Int32
    private var splitter = LineSplitter()
    /// Lines split off the first chunk but not yet handed over.
    private var pending: [[UInt8]] = []
    private var atEnd = false

    /// Opens `path` and reads its header line.
    public init(path: String) throws(LogExportError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw LogExportError(.unreadable, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        // Replaced below by the file's own header, or the legacy bundle's.
        header = LogExport.Header(
            treeHead: SignedTreeHead(size: 0, root: "", timestamp: 0, signature: ""), serverCertificate: "", caCertificate: "", revocations: "",
            vendorCertificates: [])
        var first: [UInt8]?
        while first == nil, !atEnd {
            try readChunk()
            if !pending.isEmpty { first = pending.removeFirst() }
        }
        guard let first else { throw LogExportError(.notAnExport, "\(path) is empty: not a sealdrop log export") }
        do {
            header = try LogExport.decodeHeader(first)
        } catch {
            // A legacy bundle is one JSON document: pretty-printed, its first
            // line is "{"; compact, its one line names the old format.
            let legacy = first.filter { $0 != 0x20 && $0 != 0x0D } == [UInt8(ascii: "{")] || error.message.contains("\"\(LogExport.legacyFormat)\"")
            guard legacy else { throw error }
            try readLegacy()
        }
    }

    deinit { close(descriptor) }

    /// Calls `body` with each entry's bytes, in order, then returns.
    public func forEachEntry(_ body: ([UInt8]) throws -> Void) throws {
        if let legacyEntries {
            for entry in legacyEntries { try body(entry) }
            return
        }
        var number = 0
        while true {
            for line in pending {
                number += 1
                try body(try LogExport.decodeEntryLine(line, number: number))
            }
            pending.removeAll(keepingCapacity: true)
            if atEnd { return }
            try readChunk()
        }
    }

    /// Reads one chunk and splits off its complete lines into `pending`.
    private func readChunk() throws(LogExportError) {
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw LogExportError(.unreadable, "cannot read \(path): \(String(cString: strerror(errno)))") }
        if count == 0 {
            atEnd = true
            if let last = splitter.finish() { pending.append(last) }
            return
        }
        var lines = pending
        splitter.feed(buffer[..<count]) { lines.append(Array($0)) }
        pending = lines
        if splitter.buffered > LogExport.maximumLineLength {
            throw LogExportError(.badLine, "\(path) has a line longer than \(LogExport.maximumLineLength) bytes: not a sealdrop log export")
        }
    }

    /// The whole file as the old one-document bundle.
    private func readLegacy() throws(LogExportError) {
        let bundle: LogBundle
        do {
            bundle = try JSONDecoder().decode(LogBundle.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw LogExportError(.notAnExport, "\(path) is not a sealdrop log export (\(LogExport.format)) nor an older bundle: \(error.localizedDescription)")
        }
        guard bundle.format == LogExport.legacyFormat else {
            throw LogExportError(.unknownFormat, "\(path) names the format \"\(bundle.format)\", not \"\(LogExport.format)\"")
        }
        var entries = [[UInt8]]()
        entries.reserveCapacity(bundle.entries.count)
        for (index, text) in bundle.entries.enumerated() {
            guard let bytes = Base64.decode(text) else { throw LogExportError(.badLine, "entry \(index + 1) of \(path) is not valid Base64") }
            entries.append(bytes)
        }
        header = LogExport.Header(
            treeHead: bundle.treeHead, serverCertificate: bundle.serverCertificate, caCertificate: bundle.caCertificate,
            revocations: bundle.revocations, vendorCertificates: bundle.vendorCertificates)
        legacyEntries = entries
        pending = []
    }

    /// Splits bytes fed in any pieces into lines ended by a line feed (not
    /// included); a last line without one comes from `finish`.
    public struct LineSplitter {
        private var partial: [UInt8] = []

        public init() {}

        /// Bytes held of a line not yet ended.
        public var buffered: Int { partial.count }

        public mutating func feed(_ chunk: ArraySlice<UInt8>, _ line: (ArraySlice<UInt8>) -> Void) {
            chunk.withUnsafeBufferPointer { bytes in
                guard let base = bytes.baseAddress else { return }
                var start = 0
                while start < bytes.count,
                    let found = memchr(base + start, 0x0A, bytes.count - start)
                {
                    let end = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if partial.isEmpty {
                        line(chunk[(chunk.startIndex + start)..<(chunk.startIndex + end)])
                    } else {
                        partial += chunk[(chunk.startIndex + start)..<(chunk.startIndex + end)]
                        line(partial[...])
                        partial.removeAll(keepingCapacity: true)
                    }
                    start = end + 1
                }
                if start < bytes.count { partial += chunk[(chunk.startIndex + start)...] }
            }
        }

        /// The last line if the bytes did not end with a line feed.
        public mutating func finish() -> [UInt8]? {
            defer { partial = [] }
            return partial.isEmpty ? nil : partial
        }
    }
}
