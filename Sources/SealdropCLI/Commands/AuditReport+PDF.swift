import Foundation

/// Prints the HTML report to PDF with headless Chromium (Debian's
/// `chromium`): its print-to-PDF honours the report's print stylesheet
/// (A4 landscape). The PDF appears complete or not at all.
struct PDFPrinter {
    /// Names Chromium is installed under, searched in `PATH`.
    static let names = ["chromium", "chromium-browser", "google-chrome"]
    /// A print that takes longer than this is given up.
    static let timeout: TimeInterval = 120

    let executable: String

    /// The Chromium on this machine, or a failure that says how to get one.
    static func find(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PDFPrinter {
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for name in names {
            for folder in path where FileManager.default.isExecutableFile(atPath: folder + "/" + name) {
                return PDFPrinter(executable: folder + "/" + name)
            }
        }
        throw CLIFailure(
            message: "cannot write a PDF: headless Chromium is not installed (looked for \(names.joined(separator: ", ")) in PATH)",
            hint: "install Debian's package (apt-get install chromium), or write --html and print it from any browser", status: .failure)
    }

    func print(html: String, to destination: String) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-report-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let page = scratch + "/report.html"
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        let folder = (destination as NSString).deletingLastPathComponent
        let partial = (folder.isEmpty ? "." : folder) + "/.\((destination as NSString).lastPathComponent).\(UUID().uuidString).partial"
        defer { try? FileManager.default.removeItem(atPath: partial) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // Chromium refuses to run as root with its sandbox; the page is our
        // own, from a private folder, with no script and no network asset.
        process.arguments =
            (geteuid() == 0 ? ["--no-sandbox"] : []) + [
                "--headless", "--disable-gpu", "--no-first-run", "--user-data-dir=" + scratch + "/profile", "--no-pdf-header-footer",
                "--print-to-pdf=" + partial, URL(fileURLWithPath: page).absoluteString,
            ]
        // Its chatter goes to a file: a pipe nobody reads could fill and stall it.
        let log = scratch + "/chromium.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let errors = FileHandle(forWritingAtPath: log)
        defer { try? errors?.close() }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors ?? FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(Self.timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw CLIFailure(message: "cannot write \(destination): Chromium did not finish printing within \(Int(Self.timeout)) s", status: .failure)
        }
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let size = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0
        guard process.terminationStatus == 0, size > 0 else {
            let last = said.split(separator: "\n").last.map(String.init) ?? "no message"
            throw CLIFailure(message: "cannot write \(destination): Chromium failed to print (\(last))", status: .failure)
        }
        guard rename(partial, destination) == 0 else {
            throw CLIFailure(message: "cannot write \(destination): \(String(cString: strerror(errno)))", status: .failure)
        }
    }
}
