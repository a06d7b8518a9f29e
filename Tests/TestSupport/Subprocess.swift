import Foundation

/// The outcome of running a program to completion.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let standardOutput: [UInt8]
    public let standardError: String

    public var output: String { String(decoding: standardOutput, as: UTF8.self) }
}

/// Runs real programs (`sealdrop`, `ssh-keygen`, `age`) from tests.
public enum Subprocess {
    public static func run(
        _ executable: String, _ arguments: [String],
        input: [UInt8]? = nil, inputFile: String? = nil,
        environment: [String: String] = [:], directory: String? = nil
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "SEALDROP_PASSPHRASE")
        env.merge(environment) { $1 }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }

        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        var inPipe: Pipe?
        if let inputFile {
            process.standardInput = FileHandle(forReadingAtPath: inputFile)
        } else if input != nil {
            inPipe = Pipe()
            process.standardInput = inPipe
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()

        // Drain both pipes concurrently so a chatty child never blocks.
        let group = DispatchGroup()
        nonisolated(unsafe) var out = Data()
        nonisolated(unsafe) var err = Data()
        DispatchQueue.global().async(group: group) { out = outPipe.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { err = errPipe.fileHandleForReading.readDataToEndOfFile() }
        if let inPipe, let input {
            DispatchQueue.global().async(group: group) {
                inPipe.fileHandleForWriting.write(Data(input))
                try? inPipe.fileHandleForWriting.close()
            }
        }
        process.waitUntilExit()
        group.wait()
        return ProcessResult(status: process.terminationStatus, standardOutput: [UInt8](out), standardError: String(decoding: err, as: UTF8.self))
    }

    /// The full path of a system tool, or nil when it is not installed.
    public static func which(_ name: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin"] {
            let path = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
