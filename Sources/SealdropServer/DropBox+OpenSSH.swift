import Foundation
import SealdropKeys
import SealdropStore
import SealdropTrust

/// What the drop box needs when the host's OpenSSH `sshd` authenticates
/// vendors and `sealdropd sftp-subsystem` serves them: the keys sshd may
/// accept, the vendor a key belongs to, and the sweep no server loop runs.
extension DropBox {
    /// `authorized_keys` lines for `user`: the key of the vendor named
    /// `user` if its certificate verifies now, or, when `user` is the shared
    /// login account, the key of every vendor whose certificate verifies.
    /// Each line is `restrict` (no forwarding, no tty, no agent, no X11).
    /// Empty for an unknown, revoked or expired vendor: the certificates
    /// stay the only source of truth, and nothing is cached by sshd.
    public static func authorizedKeyLines(user: String, sharedAccount: String?, trust: TrustStore, now: Date = Date()) -> [String] {
        func line(_ party: VerifiedParty) -> String {
            var key = party.key.ssh
            key.comment = "sealdrop:" + party.name.value
            return "restrict " + key.authorizedKeyLine
        }
        if let sharedAccount, user == sharedAccount {
            return trust.vendorCertificates().compactMap { certificate in
                guard let party = try? trust.verifier(now: now).verify(certificate, for: .sender) else { return nil }
                // A certificate filed under another name is misfiled: skipped.
                guard (try? trust.party(named: party.name, for: .sender, now: now))?.key.fingerprint == party.key.fingerprint else { return nil }
                return line(party)
            }
        }
        guard let name = try? VendorName(user), let party = try? trust.party(named: name, for: .sender, now: now) else { return [] }
        return [line(party)]
    }

    /// For the `sftp-subsystem` mode behind sshd with `ExposeAuthInfo yes`:
    /// the vendor whose certificate holds the key sshd accepted. The
    /// certificate must verify now, and (when the login named one) belong
    /// to `claimedName`; the session is recorded before it starts, and a
    /// refusal is recorded as a refused login.
    public func subsystemVendor(key: VendorPublicKey, claimedName: String?, sourceAddress: String) -> VerifiedParty? {
        let now = Date()
        do {
            let party = try currentTrust(now: now).party(key: key, for: .sender, now: now)
            // The certificate filed under the name must be this one (not an
            // older certificate of the same key left in the store).
            let filed = try currentTrust(now: now).party(named: party.name, for: .sender, now: now)
            guard filed.key.fingerprint == key.fingerprint else {
                throw TrustError(.keyMismatch, "the key \(key.fingerprint) is not the one certified for \(party.name)")
            }
            if let claimedName, claimedName != party.name.value {
                throw TrustError(.keyMismatch, "the key \(key.fingerprint) belongs to \(party.name), not \(VendorName.printableName(claimedName))")
            }
            try recordOrFail(
                TransferEvent(
                    time: now, kind: .loginAccepted, actor: party.name.value, sourceAddress: sourceAddress, detail: "through sshd, key \(key.fingerprint)"))
            return party
        } catch {
            recordRefusal(kind: .loginRefused, actor: VendorName.printableName(claimedName ?? ""), source: sourceAddress, detail: "\(error)", now: now)
            log("session refused for key \(key.fingerprint): \(error)")
            return nil
        }
    }

    /// One pass of what `serve` does in the background, for deployments
    /// without a long-running server (`sealdropd sweep` from a timer):
    /// fully served claims whose lease lapsed are delivered, expired
    /// transfers end, orphan blobs go, aggregated refusals are written, and
    /// staging files untouched for `stagingMaximumIdle` are removed (a live
    /// upload writes far more often; one that stopped that long is dead, and
    /// its session fails at publish rather than publishing a partial file).
    public func sweepOnce(now: Date = Date(), stagingMaximumIdle: TimeInterval) throws -> (ended: Int, stagingRemoved: Int) {
        let ended = try sweep(now: now, startingUp: false)
        flushRefusals(all: true)
        let removed = blobs.cleanStaging(untouchedSince: now.addingTimeInterval(-stagingMaximumIdle))
        if removed > 0 { log("sweep: removed \(removed) abandoned uploads from staging") }
        return (ended, removed)
    }
}
