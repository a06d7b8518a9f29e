// Regenerates the receipt-log test vectors (`ops/gen-vectors` runs it).
// Keys and times are fixed, so every run writes the same bytes.
import Foundation
@_spi(TestVectors) import SealdropLog

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: log-vectors OUTPUT-DIRECTORY\n".utf8))
    exit(2)
}
do {
    for file in LogVectors.files() {
        try Data(file.bytes).write(to: URL(fileURLWithPath: arguments[1] + "/" + file.name))
    }
} catch {
    FileHandle.standardError.write(Data("log-vectors: \(error)\n".utf8))
    exit(1)
}
