import Foundation
import SealdropFormat
import SealdropIO

/// Where the passphrase for a protected key comes from. Never the command
/// line: arguments are visible to every user through `ps`.
public enum PassphraseSource: Sendable {
    /// `SEALDROP_PASSPHRASE`, else a prompt on the controlling terminal.
    case environmentOrTerminal
    /// A fixed passphrase, for tests and embedding.
    case fixed(String)
    /// Refuse protected keys.
    case none

    public static let environmentVariable = "SEALDROP_PASSPHRASE"

    func passphrase(for path: String) throws(KeyFileError) -> String {
        switch self {
        case .fixed(let value):
            return value
        case .none:
            throw KeyFileError(.passphraseUnavailable, "\(path) is protected by a passphrase and none was given")
        case .environmentOrTerminal:
            if let value = ProcessInfo.processInfo.environment[Self.environmentVariable] {
                return value
            }
            if let value = PassphrasePrompt.read("Passphrase for \(path): ") {
                return value
            }
            throw KeyFileError(
                .passphraseUnavailable,
                "\(path) is protected by a passphrase: set \(Self.environmentVariable) or run on a terminal to be asked"
            )
        }
    }
}

/// Reads a line from the controlling terminal with echo turned off; nil
/// when there is no terminal.
public enum PassphrasePrompt {
    public static func read(_ prompt: String) -> String? {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return nil }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        InterruptCleanup.protectTerminal(fd, restoring: saved)
        _ = tcsetattr(fd, TCSAFLUSH, &quiet)
        defer {
            _ = tcsetattr(fd, TCSAFLUSH, &saved)
            InterruptCleanup.releaseTerminal()
            _ = Glibc.write(fd, "\n", 1)
        }
        _ = prompt.withCString { Glibc.write(fd, $0, strlen($0)) }
        var line = [UInt8]()
        var byte: UInt8 = 0
        while Glibc.read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n") {
            line.append(byte)
        }
        return String(decoding: line, as: UTF8.self)
    }
}
