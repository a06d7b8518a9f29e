import Foundation
import SealdropFormat

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

    /// Makes untrusted text (a sender-chosen file name) safe to print on one
    /// line: unsafe characters (`TextSafety`) become visible escapes.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if TextSafety.isUnsafe(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Untrusted multi-line text, every line under `label` so that no line
    /// of it can pass for one of ours.
    static func labelled(_ label: String, _ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "\(label): \(printable(String($0)))" }
            .joined(separator: "\n")
    }

    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
}
