// Regenerates the receipt-log test vectors (`ops/gen-vectors` runs it).
// Keys and times are fixed, so every run writes the same bytes.
import Foundation
@_spi(TestVectors) import SealdropLog

let arguments = CommandLine.arguments
if arguments.count == 8, arguments[1] == "bundle", let count = Int(arguments[2]), count > 0 {
    do {
        func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
        try BenchBundle.write(
            count: count, keyPath: arguments[3], serverPEM: try text(arguments[4]), caPEM: try text(arguments[5]), crl: try text(arguments[6]),
            to: arguments[7])
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("log-vectors: \(error)\n".utf8))
        exit(1)
    }
}
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: log-vectors OUTPUT-DIRECTORY | log-vectors bundle COUNT KEY SERVER.pem CA.pem CRL OUT\n".utf8))
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
