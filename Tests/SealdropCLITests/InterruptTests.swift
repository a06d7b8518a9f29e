import Foundation
import Testing
import TestSupport

/// Stopping `sealdrop open` half way leaves no partial plaintext behind.
@Suite struct InterruptTests {
    @Test(arguments: [SIGTERM, SIGINT, SIGKILL])
    func interruptedOpenLeavesNothing(signal: Int32) throws {
        let workspace = try CLIWorkspace()
        _ = try workspace.directory.write(Fixtures.bytes(1_000_000), to: "big.bin")
        #expect(try workspace.seal("big.bin", to: "big.sealdrop").status == 0)
        let envelope = try workspace.directory.read("big.sealdrop")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fixtures.sealdrop)
        process.arguments = ["open", "-", "-o", "out.bin", "--identity", "newvendor", "--from", "oldvendor"]
        process.environment = ["SEALDROP_TRUST": workspace.directory.file("ca/trust")]
        process.currentDirectoryURL = URL(fileURLWithPath: workspace.directory.path)
        let input = Pipe()
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Half the envelope, then silence: the open waits mid-stream.
        input.fileHandleForWriting.write(Data(envelope.prefix(envelope.count / 2)))

        // The unnamed output file exists only as an open descriptor; wait
        // until the process has one open in this directory.
        let deadline = Date().addingTimeInterval(10)
        var writing = false
        while Date() < deadline, !writing {
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd")) ?? []
            writing = descriptors.contains { fd in
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.processIdentifier)/fd/\(fd)")) ?? ""
                return target.hasPrefix(workspace.directory.path) && target.contains("(deleted)") || target.hasPrefix(workspace.directory.path + "/#")
            }
            if !writing { usleep(20_000) }
        }
        #expect(writing, "the open had started writing")
        usleep(300_000)
        kill(process.processIdentifier, signal)
        let stopBy = Date().addingTimeInterval(10)
        while process.isRunning, Date() < stopBy { usleep(20_000) }
        if process.isRunning {
            Issue.record("sealdrop ignored the signal")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try? input.fileHandleForWriting.close()

        #expect(process.terminationReason == .uncaughtSignal)
        let left = try workspace.directory.entries().filter { $0.hasPrefix(".") || $0 == "out.bin" }
        #expect(left.isEmpty, "left behind: \(left)")
    }
}
