import SealdropStore

extension DropBox {
    /// The key fingerprints recorded for every node of this drop box, after
    /// recording `keys` if this is the first node (see `TransferStore.clusterKeys`).
    public func clusterKeys(record keys: ClusterKeys) throws(StoreError) -> ClusterKeys {
        try store.clusterKeys(record: keys)
    }
}
