import Foundation
@testable import SealdropServer
import SealdropStore
import Testing

/// The file-size limit at its edge, through the real rules and driver: an
/// envelope of exactly the limit is published, one byte more is refused
/// and leaves nothing behind.
@Suite struct FileSizeLimitTests {
    @Test func anEnvelopeAtTheLimitPassesAndOneByteMoreDoesNot() throws {
        let world = try DropBoxWorld()
        let fits = try world.envelope(100_000)
        let over = try world.envelope(300_000)
        #expect(over.count > fits.count)
        world.configuration.maximumFileSize = UInt64(fits.count)
        try world.reopen()
        let session = try world.session("oldvendor")
        #expect(SessionTests.isOK(world.upload(fits, as: session)), "an envelope of exactly the limit")

        // One request past the limit, then the CLOSE: both refused, nothing kept.
        guard
            case .handle(_, let handle) = session.handle(
                .open(id: 1, path: Array("/outbox/newvendor/x".utf8), flags: [.write, .create], attributes: .empty)
            ).first
        else {
            Issue.record("no handle")
            return
        }
        let refused = session.handle(.write(id: 2, handle: handle, offset: 0, data: Array(over.prefix(fits.count + 1))))
        guard case .status(_, .failure, let message)? = refused.first else {
            Issue.record("a write past the limit was accepted: \(refused)")
            return
        }
        #expect(message.contains("limit of \(fits.count) bytes"), "\(message)")
        guard case .status(_, .failure, _)? = session.handle(.close(id: 3, handle: handle)).first else {
            Issue.record("an upload past the limit was published")
            return
        }
        #expect(world.staging().isEmpty)
        #expect(world.dropBox.reservations.usage(of: "oldvendor") == UploadReservations.Usage())
        #expect(try world.dropBox.store.inbox(recipient: "newvendor").count == 1)
    }
}
