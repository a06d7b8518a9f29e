import SwiftASN1
import X509

/// What a certificate allows its key to do, carried as an extended key
/// usage of sealdrop's own, so `openssl x509 -text` shows it.
///
/// The OIDs sit under `2.25.240662118954536702349122201223858297073`, a
/// UUID arc (ITU-T X.667): an OID anyone may mint without registration.
/// Its 128-bit component does not fit the OID type of the ASN.1 library,
/// so the role OIDs are kept, written and compared as DER content bytes.
public enum CertificateRole: String, Sendable, CaseIterable, CustomStringConvertible {
    /// A vendor: logs in, sends and receives envelopes.
    case vendor
    /// The drop box server: its host and receipt keys.
    case server

    static let arc = "2.25.240662118954536702349122201223858297073"

    /// The dotted OID, as `openssl x509 -text` prints it.
    public var dottedOID: String {
        switch self {
        case .vendor: Self.arc + ".1.1"
        case .server: Self.arc + ".1.2"
        }
    }

    /// The OID's DER content bytes (without tag and length).
    var oidContent: [UInt8] { ObjectIdentifierEncoding.content(dotted: dottedOID)! }

    public var description: String { rawValue }

    /// The extended key usage extension naming this role, not critical so
    /// that general-purpose verifiers (openssl) accept the certificate.
    var extendedKeyUsageExtension: Certificate.Extension {
        var sequenceContent = [UInt8]([0x06]) + ObjectIdentifierEncoding.length(oidContent.count) + oidContent
        sequenceContent = [0x30] + ObjectIdentifierEncoding.length(sequenceContent.count) + sequenceContent
        return Certificate.Extension(oid: .X509ExtensionID.extendedKeyUsage, critical: false, value: sequenceContent[...])
    }

    /// The roles named in a certificate's extended key usage.
    static func roles(in certificate: Certificate) throws(TrustError) -> [CertificateRole] {
        guard let ext = certificate.extensions[oid: .X509ExtensionID.extendedKeyUsage] else { return [] }
        do {
            let root = try DER.parse(ext.value)
            guard case .constructed(let children) = root.content, root.identifier == .sequence else {
                throw TrustError(.malformedCertificate, "the extended key usage is not a sequence")
            }
            var roles = [CertificateRole]()
            for child in children {
                guard child.identifier == .objectIdentifier, case .primitive(let content) = child.content else {
                    throw TrustError(.malformedCertificate, "the extended key usage holds something other than OIDs")
                }
                if let role = allCases.first(where: { $0.oidContent.elementsEqual(content) }) { roles.append(role) }
            }
            return roles
        } catch let error as TrustError {
            throw error
        } catch {
            throw TrustError(.malformedCertificate, "the extended key usage cannot be parsed: \(error)")
        }
    }
}

/// DER encoding of object identifiers whose components may exceed 64 bits.
enum ObjectIdentifierEncoding {
    /// Content bytes of a dotted OID; nil if it is not one.
    static func content(dotted: String) -> [UInt8]? {
        let parts = dotted.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { (48...57).contains($0) } }) else { return nil }
        var digits = parts.map { $0.map { UInt32($0 - 48) } }
        // The first two arcs share one component: 40 * first + second.
        guard let first = digits.first.flatMap({ $0.count == 1 ? $0[0] : nil }), first <= 2 else { return nil }
        digits.removeFirst()
        digits[0] = add(multiply: [first], by: 40, plus: digits[0])
        var out = [UInt8]()
        for component in digits {
            out += base128(component)
        }
        return out
    }

    /// DER length octets.
    static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes = [UInt8]()
        var rest = count
        while rest > 0 {
            bytes.insert(UInt8(rest & 0xff), at: 0)
            rest >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    /// A decimal number (digits, most significant first) in base 128 with continuation bits.
    private static func base128(_ decimal: [UInt32]) -> [UInt8] {
        var number = decimal
        var groups = [UInt8]()
        repeat {
            var remainder: UInt32 = 0
            var quotient = [UInt32]()
            for digit in number {
                let value = remainder * 10 + digit
                quotient.append(value / 128)
                remainder = value % 128
            }
            groups.insert(UInt8(remainder), at: 0)
            number = Array(quotient.drop { $0 == 0 })
        } while !number.isEmpty
        for index in 0..<(groups.count - 1) { groups[index] |= 0x80 }
        return groups
    }

    /// `a * factor + b` for small decimal numbers given as digit arrays.
    private static func add(multiply a: [UInt32], by factor: UInt32, plus b: [UInt32]) -> [UInt32] {
        let value = (a.reduce(0) { $0 * 10 + $1 }) * factor
        var result = b
        var carry = value
        var index = result.count - 1
        while carry > 0 || index >= 0 {
            if index < 0 {
                result.insert(0, at: 0)
                index = 0
            }
            let sum = result[index] + carry % 10
            result[index] = sum % 10
            carry = carry / 10 + sum / 10
            index -= 1
        }
        return result
    }
}
