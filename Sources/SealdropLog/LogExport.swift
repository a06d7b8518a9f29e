import Foundation
import SealdropFormat

/// The log export as `sealdropd log export` writes it and `sealdrop audit`
/// reads it (spec §4): JSON lines, so neither side ever holds the log.
///
/// Line 1 is `Header` (format, signed head, certificates); every further
/// line is one entry, in log order: its exact bytes when they can stand on
/// a line (every canonical entry can: the codec escapes line feeds), else
/// a JSON string of their Base64. The line feed ends a line; nothing else
/// is trimmed, so the bytes hashed are the bytes written.
public struct LogExport: Sendable {
    public static let format = "sealdrop-log-lines-v1"
    /// The one-document bundle written before: still read (whole, so slowly).
    public static let legacyFormat = "sealdrop-log-v1"
    /// The longest line read (header or entry): a bound on memory for a
    /// hostile file. Real entries are well under 64 KiB (a signed statement
    /// is the largest); the header holds every vendor certificate.
    public static let maximumLineLength = 64 << 20

    /// What the first line holds.
    public struct Header: Codable, Sendable {
        public var format = LogExport.format
        /// A head over exactly the entries that follow.
        public var treeHead: SignedTreeHead
        /// PEM: the server certificate (role server) holding the receipt key.
        public var serverCertificate: String
        public var caCertificate: String
        /// PEM: the CA's revocation list, or empty.
        public var revocations: String
        /// PEM: the vendor certificates, to check signed statements against.
        public var vendorCertificates: [String]
        /// PEM: server certificates of receipt keys used before a rotation, so
        /// heads saved before it (`--since-head`, `--witness-head`) can be
        /// checked. Absent when there are none.
        public var previousServerCertificates: [String]?

        public init(
            treeHead: SignedTreeHead, serverCertificate: String, caCertificate: String, revocations: String, vendorCertificates: [String]
        ) {
            self.treeHead = treeHead
            self.serverCertificate = serverCertificate
            self.caCertificate = caCertificate
            self.revocations = revocations
            self.vendorCertificates = vendorCertificates
        }

        /// The header line, without its line feed: compact, keys sorted.
        public func encoded() -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            // Encoding strings, integers and arrays of strings cannot fail.
            return (try? Array(encoder.encode(self))) ?? []
        }
    }

    public var header: Header
    /// Each entry's exact bytes, in order.
    public var entries: [[UInt8]]

    public init(header: Header, entries: [[UInt8]]) {
        self.header = header
        self.entries = entries
    }

    /// A whole export in memory (tests, small logs); `LogExportReader` streams.
    public init(bytes: [UInt8]) throws(LogExportError) {
        var entries = [[UInt8]]()
        var header: Header?
        var reader = LogExportReader.LineSplitter()
        var lines = [[UInt8]]()
        reader.feed(bytes[...]) { lines.append(Array($0)) }
        if let last = reader.finish() { lines.append(last) }
        for (index, line) in lines.enumerated() {
            if index == 0 {
                header = try Self.decodeHeader(line)
            } else {
                entries.append(try Self.decodeEntryLine(line, number: index))
            }
        }
        guard let header else { throw LogExportError(.notAnExport, "the file is empty") }
        self.init(header: header, entries: entries)
    }

    /// The file's bytes: the header line, then one line per entry.
    public func encoded() -> [UInt8] {
        var out = header.encoded()
        out.append(0x0A)
        for entry in entries { Self.appendEntryLine(entry, to: &out) }
        return out
    }

    /// Appends `entry` as one line (with its line feed).
    public static func appendEntryLine(_ entry: [UInt8], to out: inout [UInt8]) {
        if entry.contains(0x0A) || entry.first == 0x22 {
            out += Array("\"\(Base64.encode(entry))\"".utf8)
        } else {
            out += entry
        }
        out.append(0x0A)
    }

    /// An entry line's bytes (`number` counts entries from 1, for the message).
    public static func decodeEntryLine(_ line: [UInt8], number: Int) throws(LogExportError) -> [UInt8] {
        guard line.first == 0x22 else { return line }
        guard line.count >= 2, line.last == 0x22, let bytes = Base64.decode(String(decoding: line.dropFirst().dropLast(), as: UTF8.self)) else {
            throw LogExportError(.badLine, "line \(number + 1) (entry \(number)) is a string but not the Base64 of an entry")
        }
        return bytes
    }

    public static func decodeHeader(_ line: [UInt8]) throws(LogExportError) -> Header {
        let data = Data(line)
        guard let format = try? JSONDecoder().decode(FormatName.self, from: data) else {
            throw LogExportError(.notAnExport, "its first line is not a JSON object: not a sealdrop log export")
        }
        guard format.format == Self.format else {
            throw LogExportError(
                .unknownFormat, "its format is \(format.format.map { "\"\($0)\"" } ?? "not named"), not \"\(Self.format)\"")
        }
        do {
            return try JSONDecoder().decode(Header.self, from: data)
        } catch {
            throw LogExportError(.notAnExport, "its header line lacks a field or has one of the wrong type (\(error))")
        }
    }
}

/// Just the `format` key, read before the rest.
private struct FormatName: Decodable { var format: String? }

public struct LogExportError: CodedError, Sendable {
    public enum Code: String, Sendable {
        /// Not JSON lines with a header: not an export at all.
        case notAnExport = "not-an-export"
        /// A header naming another format (or a future version).
        case unknownFormat = "unknown-format"
        /// A line that cannot be an entry (a bad Base64 string, or too long).
        case badLine = "bad-line"
        /// The file could not be read.
        case unreadable = "unreadable"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
