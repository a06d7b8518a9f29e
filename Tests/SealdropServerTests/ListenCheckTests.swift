import Foundation
import Testing
import TestSupport

/// `sealdropd serve` checks where it will listen before it creates anything.
@Suite struct ListenCheckTests {
    @Test func anAddressThatCannotBeBoundCreatesNothing() throws {
        let directory = try TemporaryDirectory()
        let taken = try ServerFixture()
        for listen in ["127.0.0.1:\(taken.port)", "192.0.2.1:2222", "no-such-host.invalid:2222"] {
            let data = directory.file("data-\(UUID().uuidString)")
            let result = try Subprocess.run(
                Fixtures.sealdropd, ["serve", "--data", data, "--trust", taken.trust, "--listen", listen], directory: directory.path)
            #expect(result.status != 0, "\(listen)")
            #expect(result.standardError.contains("cannot listen on"), "\(listen): \(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: data), "\(listen): nothing created")
        }
    }
}
