import Foundation
import FuzzSupport
import SealdropLog

#if canImport(Glibc)
    import Glibc
#endif

// Fuzz target: the JSON-lines log export reader (`LogExportReader`, format
// `sealdrop-log-lines-v1`), reading the input from a file as `sealdrop
// audit` and `sealdropd restore` do. Properties besides "never traps":
//
// - the streaming reader and the in-memory parser (`LogExport(bytes:)`)
//   agree: what one reads, the other reads the same (header and every
//   entry's bytes); the reader alone also reads a legacy bundle, and only
//   when the input is one;
// - it never fails to read a file it was given (a leaked descriptor
//   would show up as "cannot open");
// - what it reads, written again (`LogExport.encoded`), reads back the same;
// - lines split from bytes fed in pieces are the lines of the whole.
@main
enum FuzzLogExport {
    static func main() { fuzzMain(checkExport) }
}

/// One file, rewritten for each input: a per-process name in the temporary folder.
let inputPath = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/fuzz-log-export-\(getpid()).jsonl"

func checkExport(_ input: [UInt8]) {
    checkSplitter(input)
    write(input, to: inputPath)
    defer { unlink(inputPath) }
    let streamed: (header: LogExport.Header, entries: [[UInt8]])?
    do {
        let reader = try LogExportReader(path: inputPath)
        var entries = [[UInt8]]()
        try reader.forEachEntry { entries.append($0) }
        streamed = (reader.header, entries)
    } catch let error as LogExportError {
        guard error.code != .unreadable else { fatalError("the reader could not read its own input file: \(error.message)") }
        streamed = nil
    } catch {
        fatalError("the reader threw an error that is not a LogExportError: \(error)")
    }
    let whole = try? LogExport(bytes: input)
    switch (streamed, whole) {
    case (nil, nil):
        return
    case (nil, .some):
        fatalError("the in-memory parser reads an export the streaming reader refuses")
    case (.some(let read), nil):
        guard isLegacyBundle(input) else { fatalError("the streaming reader reads what is neither an export nor a legacy bundle") }
        checkRewrite(read.header, read.entries)
    case (.some(let read), .some(let export)):
        guard read.header.encoded() == export.header.encoded(), read.entries == export.entries else {
            fatalError("the streaming reader and the in-memory parser read different logs")
        }
        checkRewrite(read.header, read.entries)
    }
}

/// What was read, written as an export, reads back the same.
func checkRewrite(_ header: LogExport.Header, _ entries: [[UInt8]]) {
    guard !header.encoded().isEmpty else { fatalError("a header read does not encode") }
    let bytes = LogExport(header: header, entries: entries).encoded()
    guard let again = try? LogExport(bytes: bytes) else { fatalError("an export written from what was read does not read back") }
    guard again.header.encoded() == header.encoded(), again.entries == entries else {
        fatalError("an export written from what was read reads back different")
    }
}

func isLegacyBundle(_ input: [UInt8]) -> Bool {
    (try? JSONDecoder().decode(LogBundle.self, from: Data(input)))?.format == LogExport.legacyFormat
}

/// Feeding the input in up to four pieces (cut where its first bytes say)
/// gives the lines of feeding it whole, which are the bytes between line feeds.
func checkSplitter(_ input: [UInt8]) {
    var whole = LogExportReader.LineSplitter()
    var expected = [[UInt8]]()
    whole.feed(input[...]) { expected.append(Array($0)) }
    if let last = whole.finish() { expected.append(last) }
    var reference = input.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
    if reference.last?.isEmpty == true { reference.removeLast() }
    guard expected == reference else { fatalError("the line splitter's lines are not the bytes between line feeds") }

    let cuts = input.prefix(3).map { input.isEmpty ? 0 : Int($0) * input.count / 256 }.sorted()
    var pieces = LogExportReader.LineSplitter()
    var lines = [[UInt8]]()
    var start = 0
    for cut in cuts + [input.count] where cut >= start {
        pieces.feed(input[start..<cut]) { lines.append(Array($0)) }
        start = cut
    }
    if let last = pieces.finish() { lines.append(last) }
    guard lines == expected else { fatalError("lines fed in pieces differ from the lines fed whole") }
}

func write(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
        guard n > 0 else { fatalError("cannot write \(path): \(String(cString: strerror(errno)))") }
        written += n
    }
}
