import Foundation

/// Messages for people, on standard error, in the house format.
enum Terminal {
    static func error(_ message: String) {
        write("sealdrop: error: \(message)\n")
    }

    static func warning(_ message: String) {
        write("sealdrop: warning: \(message)\n")
    }

    static func hint(_ message: String) {
        write("sealdrop: hint: \(message)\n")
    }

    /// Progress and results; standard error keeps standard output for data.
    static func info(_ message: String) {
        write(message + "\n")
    }

    private static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Makes untrusted text (a sender-chosen file name or note) safe to print:
    /// control characters become visible escapes so they cannot drive the terminal.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
                out += scalar == "\n" ? "\n" : "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
}
