import Foundation
import TestSupport

/// A third-party SFTP client driven as a vendor's operations team would
/// drive it: its own command line, its default settings, the vendor's key.
/// Each operation is one run of the tool (one connection).
enum InteropClient: String, CaseIterable, CustomStringConvertible, Sendable {
    case openSSH = "OpenSSH sftp"
    case lftp
    case rclone
    case curl
    case paramiko

    var description: String { rawValue }

    /// Why the client cannot run here, or nil when it can.
    var unavailable: String? {
        switch self {
        case .openSSH: Subprocess.which("sftp") == nil ? "sftp is not installed" : nil
        case .lftp: Subprocess.which("lftp") == nil ? "lftp is not installed (ops/test installs it)" : nil
        case .rclone: Subprocess.which("rclone") == nil ? "rclone is not installed (ops/test installs it)" : nil
        case .curl: Subprocess.which("curl") == nil ? "curl is not installed" : nil
        case .paramiko: PythonVenv.paramiko() == nil ? "paramiko could not be installed into \(PythonVenv.path)" : nil
        }
    }

    /// Lists a folder: the names appear in the output.
    func list(_ server: ServerFixture, _ user: String, _ folder: String) throws -> ProcessResult {
        switch self {
        case .openSSH: try server.sftp(user, ["ls -l \(folder)"])
        case .lftp: try lftp(server, user, "cls -1 \(folder)/")
        case .rclone: try rclone(server, user, ["lsf", ":sftp:\(folder)"])
        case .curl: try curl(server, user, ["sftp://127.0.0.1:\(server.port)\(folder)/"])
        case .paramiko: try paramiko(server, user, ["list", folder])
        }
    }

    /// Uploads the local file `local` (in the fixture directory) to `remote`.
    func upload(_ server: ServerFixture, _ user: String, _ local: String, to remote: String) throws -> ProcessResult {
        switch self {
        case .openSSH: try server.sftp(user, ["put \(local) \(remote)"])
        case .lftp: try lftp(server, user, "put \(local) -o \(remote)")
        case .rclone: try rclone(server, user, ["copyto", local, ":sftp:\(remote)"])
        case .curl: try curl(server, user, ["-T", local, "sftp://127.0.0.1:\(server.port)\(remote)"])
        case .paramiko: try paramiko(server, user, ["put", local, remote])
        }
    }

    /// Downloads `remote` to the local file `local` (in the fixture directory).
    /// `extra` options go to rclone only.
    func download(_ server: ServerFixture, _ user: String, _ remote: String, to local: String, extra: [String] = []) throws -> ProcessResult {
        switch self {
        case .openSSH: try server.sftp(user, ["get \(remote) \(local)"])
        case .lftp: try lftp(server, user, "get \(remote) -o \(local)")
        case .rclone: try rclone(server, user, ["copyto", ":sftp:\(remote)", local] + extra)
        case .curl: try curl(server, user, ["-o", local, "sftp://127.0.0.1:\(server.port)\(remote)"])
        case .paramiko: try paramiko(server, user, ["get", remote, local])
        }
    }

    /// Removes `remote` (a revocation when it is under /sent).
    func remove(_ server: ServerFixture, _ user: String, _ remote: String) throws -> ProcessResult {
        switch self {
        case .openSSH: try server.sftp(user, ["rm \(remote)"])
        case .lftp: try lftp(server, user, "rm \(remote)")
        case .rclone: try rclone(server, user, ["deletefile", ":sftp:\(remote)"])
        case .curl: try curl(server, user, ["-Q", "rm \(remote)", "sftp://127.0.0.1:\(server.port)/"])
        case .paramiko: try paramiko(server, user, ["rm", remote])
        }
    }

    // MARK: - The tools

    /// Runs lftp `commands` (`;`-separated) as `user`, then `bye`.
    func run(_ server: ServerFixture, _ user: String, _ commands: String) throws -> ProcessResult {
        precondition(self == .lftp, "only lftp takes a command line")
        return try lftp(server, user, commands)
    }

    private func lftp(_ server: ServerFixture, _ user: String, _ command: String) throws -> ProcessResult {
        // lftp speaks SFTP through an ssh it starts; its password prompt is
        // answered by the key (an empty password after the comma).
        let ssh = (["ssh", "-a", "-x"] + server.sshOptions(user, portFlag: "-p").filter { $0 != "-p" && $0 != String(server.port) }).joined(separator: " ")
        let script = "set sftp:connect-program \"\(ssh)\"; set cmd:fail-exit yes; open -u \(user), -p \(server.port) sftp://127.0.0.1; \(command); bye"
        return try Subprocess.run(Subprocess.which("lftp")!, ["-c", script], environment: ["HOME": server.directory.path], directory: server.directory.path)
    }

    private func rclone(_ server: ServerFixture, _ user: String, _ arguments: [String]) throws -> ProcessResult {
        let environment = [
            "RCLONE_CONFIG": server.directory.file("rclone.conf"), "RCLONE_SFTP_HOST": "127.0.0.1", "RCLONE_SFTP_PORT": String(server.port),
            "RCLONE_SFTP_USER": user, "RCLONE_SFTP_KEY_FILE": server.directory.file(user),
        ]
        return try Subprocess.run(Subprocess.which("rclone")!, arguments + ["--retries", "1"], environment: environment, directory: server.directory.path)
    }

    private func curl(_ server: ServerFixture, _ user: String, _ arguments: [String]) throws -> ProcessResult {
        // --insecure: curl has no known_hosts entry for a throwaway server.
        let keys = ["--key", server.directory.file(user), "--pubkey", server.directory.file(user + ".pub"), "--insecure", "-u", "\(user):"]
        return try Subprocess.run(Subprocess.which("curl")!, ["-sS", "--fail"] + keys + arguments, directory: server.directory.path)
    }

    private func paramiko(_ server: ServerFixture, _ user: String, _ arguments: [String]) throws -> ProcessResult {
        let script = try server.directory.write(Array(PythonVenv.paramikoScript.utf8), to: "paramiko_client.py")
        guard let python = PythonVenv.paramiko() else { throw FixtureError.setup("paramiko is not available") }
        return try Subprocess.run(
            python, [script, String(server.port), user, server.directory.file(user)] + arguments, directory: server.directory.path)
    }
}

/// A Python virtual environment under the build folder with paramiko,
/// made once on first use (never system-wide).
enum PythonVenv {
    static let path = Fixtures.root + "/.build/interop-venv"

    /// The venv's python with paramiko importable, or nil if it cannot be had.
    static func paramiko() -> String? { made }

    private static let made: String? = {
        let python = path + "/bin/python3"
        if (try? Subprocess.run(python, ["-c", "import paramiko"]).status) == 0 { return python }
        guard let system = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
            (try? Subprocess.run(system, ["-m", "venv", path]).status) == 0,
            (try? Subprocess.run(path + "/bin/pip", ["install", "-q", "paramiko"]).status) == 0,
            (try? Subprocess.run(python, ["-c", "import paramiko"]).status) == 0
        else { return nil }
        return python
    }()

    /// What a vendor's script does with paramiko's SFTPClient, defaults kept.
    static let paramikoScript = """
        import sys, paramiko
        port, user, key, command = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        args = sys.argv[5:]
        ssh = paramiko.SSHClient()
        ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        ssh.connect("127.0.0.1", port=port, username=user, key_filename=key, look_for_keys=False, allow_agent=False)
        sftp = ssh.open_sftp()
        try:
            if command == "list":
                for name in sftp.listdir(args[0]):
                    print(name)
            elif command == "put":
                sftp.put(args[0], args[1])
            elif command == "get":
                sftp.get(args[0], args[1])
            elif command == "rm":
                sftp.remove(args[0])
        finally:
            sftp.close()
            ssh.close()
        """
}
