import Foundation
import Testing
import TestSupport

/// A declaration that cannot be uploaded is refused before the extract is:
/// nothing reaches the drop box, and nothing traps.
@Suite struct SendDeclarationCLITests {
    @Test func anOversizedOrMalformedDeclarationIsRefusedBeforeUploading() throws {
        let fixture = try HostileFixture()
        let input = try fixture.directory.write(Fixtures.bytes(5000), to: "extract.sql")
        let long = String(repeating: "c", count: 1000)
        let categories = (0..<70).flatMap { ["--category", long + "\($0)"] }
        let oversized = try fixture.sealdrop(["send", input, "--to", "newvendor", "--purpose", "migration"] + categories, profile: "oldvendor")
        #expect(oversized.status == 2, "\(oversized.standardError)")
        #expect(oversized.standardError.contains("sealdrop: error: the declaration is"), "\(oversized.standardError)")

        _ = try fixture.directory.write(Array("{\"purpose\": 5}".utf8), to: "declaration.json")
        let malformed = try fixture.sealdrop(["send", input, "--to", "newvendor", "--declare", "declaration.json"], profile: "oldvendor")
        #expect(malformed.status == 2, "\(malformed.standardError)")
        #expect(malformed.standardError.contains("declaration.json is not a declaration"), "\(malformed.standardError)")
        #expect(fixture.server.written.keys.filter { $0.hasPrefix("/outbox/") }.isEmpty, "nothing was uploaded")
    }
}
