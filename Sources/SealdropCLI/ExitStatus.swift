/// Exit codes of `sealdrop`; stable, documented in `--help` and the README.
enum ExitStatus: Int32 {
    case success = 0
    /// Something else failed: a file could not be read or written.
    case failure = 1
    /// The command line was wrong.
    case usage = 2
    /// An envelope failed a check: altered, truncated, forged or not for you.
    case verification = 3
    /// A key file could not be used: missing, corrupt, wrong type or passphrase.
    case key = 4
    /// A certificate or the trust store refused: unknown, expired, revoked, wrong role.
    case trust = 5
    /// The drop box could not be reached, its host key differs, it refused,
    /// or it answered something that breaks its rules (nothing of it was used).
    case network = 6

    static let helpText = """
        Exit status:
          0  success
          1  failure: a file could not be read or written
          2  usage error
          3  an envelope failed verification; nothing was written
          4  a key could not be used (missing, corrupt, wrong type or passphrase)
          5  a certificate was refused (unknown, expired, revoked, wrong role, other CA)
          6  the drop box was unreachable, not the pinned server, refused the request,
             or sent something that breaks its rules (none of it was used)
        """
}
