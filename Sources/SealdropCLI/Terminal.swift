import Foundation
import SealdropClient

/// Messages for people, on standard error, in the house format.
enum Terminal {
    /// Messages may carry text from elsewhere (libssh's reports of what a
    /// server said): each line goes through the sanitiser.
    static func error(_ message: String) {
        write("sealdrop: error: \(lines(message))\n")
    }

    static func warning(_ message: String) {
        write("sealdrop: warning: \(lines(message))\n")
    }

    private static func lines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { printable(String($0)) }.joined(separator: "\n")
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

    /// Makes untrusted text (a sender-chosen file name, anything the drop
    /// box said) safe to print on one line: the one sanitiser,
    /// `UntrustedText`, turns unsafe characters into visible escapes.
    static func printable(_ text: String) -> String {
        UntrustedText.printable(text)
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
