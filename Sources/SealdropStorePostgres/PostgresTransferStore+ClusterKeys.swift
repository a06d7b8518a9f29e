import PostgresNIO
import SealdropStore

extension PostgresTransferStore {
    /// Records `keys` if no node has yet (one row, first writer wins:
    /// `ON CONFLICT DO NOTHING`) and returns what is recorded. The table is
    /// made here on first use; two nodes making it at the same moment can
    /// collide in PostgreSQL's catalog, so that step is tried twice.
    public func clusterKeys(record keys: ClusterKeys) throws(StoreError) -> ClusterKeys {
        try pool.withConnection { (link) throws(StoreError) -> ClusterKeys in
            let create: PostgresQuery =
                "CREATE TABLE IF NOT EXISTS cluster_keys (id int PRIMARY KEY CHECK (id = 1), host_key text NOT NULL, receipt_key text NOT NULL)"
            do {
                try link.run(create)
            } catch {
                try link.run(create)
            }
            try link.run("INSERT INTO cluster_keys (id, host_key, receipt_key) VALUES (1, \(keys.hostKey), \(keys.receiptKey)) ON CONFLICT (id) DO NOTHING")
            guard let row = try link.query("SELECT host_key, receipt_key FROM cluster_keys WHERE id = 1").first else {
                throw StoreError(.database, "the cluster's key fingerprints could not be recorded")
            }
            let (host, receipt) = try Self.decode(row, as: (String, String).self)
            return ClusterKeys(hostKey: host, receiptKey: receipt)
        }
    }
}
