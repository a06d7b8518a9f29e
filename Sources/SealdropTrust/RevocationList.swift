import Foundation
import SealdropCrypto
import SealdropFormat
import SwiftASN1
import X509

/// The CA's list of revoked certificates: an X.509 v2 CRL (RFC 5280 §5),
/// signed with the CA's Ed25519 key, so `openssl crl -text` reads it.
/// Each revocation re-issues it with a higher CRL number.
public struct RevocationList: Sendable {
    /// RFC 5280 §5.3.1 reason codes that make sense here.
    public enum Reason: Int, Sendable, CaseIterable, CustomStringConvertible {
        case unspecified = 0
        case keyCompromise = 1
        case affiliationChanged = 3
        case superseded = 4
        case cessationOfOperation = 5

        public init?(name: String) {
            guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
            self = match
        }

        public var description: String {
            switch self {
            case .unspecified: "unspecified"
            case .keyCompromise: "keyCompromise"
            case .affiliationChanged: "affiliationChanged"
            case .superseded: "superseded"
            case .cessationOfOperation: "cessationOfOperation"
            }
        }
    }

    public struct Entry: Sendable, Equatable {
        /// The certificate serial, unsigned big-endian bytes.
        public var serial: [UInt8]
        public var date: Date
        public var reason: Reason

        public init(serial: [UInt8], date: Date, reason: Reason) {
            self.serial = Array(serial.drop { $0 == 0 })
            self.date = date
            self.reason = reason
        }
    }

    public var number: UInt64
    public var thisUpdate: Date
    public var nextUpdate: Date
    public var entries: [Entry]

    public init(number: UInt64, thisUpdate: Date, nextUpdate: Date, entries: [Entry]) {
        self.number = number
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.entries = entries
    }

    public func entry(forSerial serial: [UInt8]) -> Entry? {
        let normalised = Array(serial.drop { $0 == 0 })
        return entries.first { $0.serial == normalised }
    }

    /// The signed DER CRL.
    public func signed(issuer: DistinguishedName, by key: Ed25519PrivateKey) throws -> [UInt8] {
        var name = DER.Serializer()
        try name.serialize(issuer)
        let tbs = encodeTBS(issuerDER: name.serializedBytes)
        let signature = key.signature(for: tbs)
        var writer = DERWriter()
        writer.constructed(DERTag.sequence) { list in
            list.raw(tbs)
            list.constructed(DERTag.sequence) { $0.node(DERTag.objectIdentifier, KnownOID.ed25519) }
            list.node(DERTag.bitString, [0] + signature)
        }
        return writer.bytes
    }

    public static func pem(der: [UInt8]) -> String {
        let body = Base64.encode(der)
        var lines = ["-----BEGIN X509 CRL-----"]
        var rest = Substring(body)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(64)))
            rest = rest.dropFirst(64)
        }
        lines.append("-----END X509 CRL-----")
        return lines.joined(separator: "\n") + "\n"
    }

    private func encodeTBS(issuerDER: [UInt8]) -> [UInt8] {
        var writer = DERWriter()
        writer.constructed(DERTag.sequence) { tbs in
            tbs.integer(1)  // v2
            tbs.constructed(DERTag.sequence) { $0.node(DERTag.objectIdentifier, KnownOID.ed25519) }
            tbs.raw(issuerDER)
            tbs.time(thisUpdate)
            tbs.time(nextUpdate)
            if !entries.isEmpty {
                tbs.constructed(DERTag.sequence) { list in
                    for entry in entries {
                        list.constructed(DERTag.sequence) { revoked in
                            revoked.integer(unsignedBytes: entry.serial)
                            revoked.time(entry.date)
                            revoked.constructed(DERTag.sequence) { extensions in
                                extensions.constructed(DERTag.sequence) { reason in
                                    reason.node(DERTag.objectIdentifier, KnownOID.reasonCode)
                                    var value = DERWriter()
                                    value.node(DERTag.enumerated, [UInt8(entry.reason.rawValue)])
                                    reason.node(DERTag.octetString, value.bytes)
                                }
                            }
                        }
                    }
                }
            }
            tbs.constructed(DERTag.contextZero) { explicit in
                explicit.constructed(DERTag.sequence) { extensions in
                    extensions.constructed(DERTag.sequence) { number in
                        number.node(DERTag.objectIdentifier, KnownOID.crlNumber)
                        var value = DERWriter()
                        value.integer(self.number)
                        number.node(DERTag.octetString, value.bytes)
                    }
                }
            }
        }
        return writer.bytes
    }
}
