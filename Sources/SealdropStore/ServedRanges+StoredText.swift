import Foundation

/// The text every store keeps served ranges as (`{"ranges":[[0,131072],...]}`),
/// public so that a store in another module writes and reads the same form.
extension ServedRanges {
    public var storedText: String {
        // Never throws: the encoder writes integers only.
        (try? SQLiteTransferStore.encode(self)) ?? "{\"ranges\":[]}"
    }

    /// Parses stored text; bad text throws (a damaged row), never traps.
    public init(storedText: String) throws(StoreError) {
        do {
            self = try SQLiteTransferStore.decodeServed(storedText)
        } catch {
            throw StoreError(.database, "a transfer's served ranges are damaged: \(error)")
        }
    }
}
