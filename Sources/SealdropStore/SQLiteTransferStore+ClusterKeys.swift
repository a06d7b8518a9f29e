import GRDB

extension SQLiteTransferStore {
    /// Records `keys` if no node has yet (one row, first writer wins, in
    /// one transaction so two nodes starting at once agree), and returns
    /// what is recorded. The table is made here on first use: it belongs to
    /// this one question, not to the transfer schema.
    public func clusterKeys(record keys: ClusterKeys) throws(StoreError) -> ClusterKeys {
        try write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS clusterKeys (
                        id INTEGER PRIMARY KEY CHECK (id = 1), hostKey TEXT NOT NULL, receiptKey TEXT NOT NULL)
                    """)
            try db.execute(
                sql: "INSERT OR IGNORE INTO clusterKeys (id, hostKey, receiptKey) VALUES (1, ?, ?)", arguments: [keys.hostKey, keys.receiptKey])
            guard let row = try Row.fetchOne(db, sql: "SELECT hostKey, receiptKey FROM clusterKeys WHERE id = 1") else {
                throw StoreError(.database, "the cluster's key fingerprints could not be recorded")
            }
            return ClusterKeys(hostKey: row["hostKey"], receiptKey: row["receiptKey"])
        }
    }
}
