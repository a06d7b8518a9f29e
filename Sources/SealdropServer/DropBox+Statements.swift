import Foundation
import SealdropLog
import SealdropStore
import Synchronization

/// Held while a statement is looked for and recorded, so two sessions of
/// this process cannot both record the first one.
private let statementGate = Mutex(())

extension DropBox {
    /// Records a signed statement (acknowledgment or declaration) unless
    /// the log already holds one of its kind for its transfer: each would
    /// otherwise be a log entry, and a vendor could upload the same one in
    /// a loop. False when one is there already. One per kind and transfer
    /// is all a receipt needs: an acknowledgment comes from the recipient,
    /// a declaration from the sender, once each.
    ///
    /// Checked and recorded under one lock of this process; across
    /// processes and nodes the store's unique index on (transfer, kind)
    /// refuses the second one, and the loser's transaction (with any
    /// delivery it would have brought about) rolls back.
    ///
    /// `record` writes the statement (with whatever it brings about, such
    /// as the delivery an acknowledgment completes).
    func recordStatementOnce(_ event: TransferEvent, record: () throws(StoreError) -> Void) throws(StoreError) -> Bool {
        guard let transferID = event.transferID else {
            try record()
            return true
        }
        return try statementGate.withLock { _ throws(StoreError) -> Bool in
            if try hasStatement(event.kind, of: transferID) { return false }
            do throws(StoreError) {
                try record()
            } catch {
                // Another process or node recorded one first.
                if try hasStatement(event.kind, of: transferID) { return false }
                throw error
            }
            return true
        }
    }

    private func hasStatement(_ kind: TransferEvent.Kind, of transferID: String) throws(StoreError) -> Bool {
        try store.logEntries(transfer: transferID).contains { (try? LogEntry(decoding: $0.entry))?.kind == kind }
    }
}
