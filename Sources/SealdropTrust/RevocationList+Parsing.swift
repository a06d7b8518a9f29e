import Foundation
import SealdropCrypto
import SealdropFormat
import SwiftASN1
import X509

extension RevocationList {
    /// Parses a PEM or DER CRL and checks its signature against the CA:
    /// an unsigned or foreign list must never decide what is revoked.
    public static func verified(_ data: [UInt8], source: String, ca: Certificate, caKey: Ed25519PublicKey) throws(TrustError) -> RevocationList {
        let der = try Self.derBytes(data, source: source)
        do {
            let root = try DER.parse(der)
            guard root.identifier == .sequence, case .constructed(let parts) = root.content else { throw Self.bad(source, "not a sequence") }
            var iterator = parts.makeIterator()
            guard let tbsNode = iterator.next(), let algorithm = iterator.next(), let signatureNode = iterator.next(), iterator.next() == nil,
                case .primitive(let signatureBits) = signatureNode.content, signatureNode.identifier == .bitString,
                signatureBits.first == 0
            else { throw Self.bad(source, "not a signed certificate list") }
            guard Self.isEd25519(algorithm) else { throw Self.bad(source, "it is not signed with Ed25519") }
            guard caKey.isValidSignature(Array(signatureBits.dropFirst()), for: Array(tbsNode.encodedBytes)) else {
                throw TrustError(.badRevocationList, "\(source) is not signed by the pinned CA; use the list the CA operator published")
            }
            return try Self.decodeTBS(tbsNode, source: source, ca: ca)
        } catch let error as TrustError {
            throw error
        } catch {
            throw Self.bad(source, "\(error)")
        }
    }

    private static func decodeTBS(_ node: ASN1Node, source: String, ca: Certificate) throws -> RevocationList {
        guard case .constructed(let fields) = node.content else { throw bad(source, "the signed part is not a sequence") }
        let items = Array(fields)
        guard items.count >= 5, (try? Int(derEncoded: items[0])) == 1, isEd25519(items[1]) else {
            throw bad(source, "it is not a version 2 list signed with Ed25519")
        }
        let issuer = try DistinguishedName(derEncoded: items[2])
        guard issuer == ca.subject else {
            throw TrustError(.badRevocationList, "\(source) was issued by \(issuer), not by the pinned CA \(ca.subject)")
        }
        let thisUpdate = try date(items[3], source)
        let nextUpdate = try date(items[4], source)
        var entries = [Entry]()
        var number: UInt64?
        for item in items.dropFirst(5) {
            if item.identifier == .sequence, case .constructed(let revoked) = item.content {
                for entryNode in revoked {
                    guard case .constructed(let entryFields) = entryNode.content else { throw bad(source, "a revoked entry is malformed") }
                    let parts = Array(entryFields)
                    guard parts.count >= 2, case .primitive(let serial) = parts[0].content else { throw bad(source, "a revoked entry is malformed") }
                    var reason = Reason.unspecified
                    if parts.count > 2, let code = reasonCode(parts[2]) { reason = Reason(rawValue: code) ?? .unspecified }
                    entries.append(Entry(serial: Array(serial), date: try date(parts[1], source), reason: reason))
                }
            } else if item.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) {
                number = crlNumber(item)
            }
        }
        guard let number else { throw bad(source, "it has no CRL number") }
        return RevocationList(number: number, thisUpdate: thisUpdate, nextUpdate: nextUpdate, entries: entries)
    }

    private static func derBytes(_ data: [UInt8], source: String) throws(TrustError) -> [UInt8] {
        let text = String(decoding: data, as: UTF8.self)
        guard text.hasPrefix("-----BEGIN X509 CRL-----") else { return data }
        guard let end = text.range(of: "-----END X509 CRL-----") else {
            throw TrustError(.badRevocationList, "\(source) is truncated: the END X509 CRL line is missing")
        }
        let body = text[text.index(text.startIndex, offsetBy: "-----BEGIN X509 CRL-----".count)..<end.lowerBound]
        guard let der = Base64.decode(body.filter { !$0.isWhitespace }) else {
            throw TrustError(.badRevocationList, "\(source) has an invalid Base64 body")
        }
        return der
    }

    private static func isEd25519(_ node: ASN1Node) -> Bool {
        guard case .constructed(let parts) = node.content, let oid = parts.first(where: { _ in true }),
            case .primitive(let bytes) = oid.content
        else { return false }
        return oid.identifier == .objectIdentifier && bytes.elementsEqual(KnownOID.ed25519)
    }

    private static func date(_ node: ASN1Node, _ source: String) throws -> Date {
        guard case .primitive(let content) = node.content else { throw bad(source, "a time is malformed") }
        var text = String(decoding: content, as: UTF8.self)
        if node.identifier == .utcTime {
            guard let year = Int(text.prefix(2)) else { throw bad(source, "a time is malformed") }
            text = (year >= 50 ? "19" : "20") + text
        } else if node.identifier != .generalizedTime {
            throw bad(source, "a time is neither UTCTime nor GeneralizedTime")
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        guard let date = formatter.date(from: text) else { throw bad(source, "the time \(text) is malformed") }
        return date
    }

    /// The value of an extension inside `[0] { SEQUENCE { SEQUENCE { oid, OCTET STRING } } }`.
    private static func crlNumber(_ node: ASN1Node) -> UInt64? {
        extensionValue(in: node, oid: KnownOID.crlNumber).flatMap { value in
            (try? DER.parse(value)).flatMap { try? UInt64(derEncoded: $0) }
        }
    }

    private static func reasonCode(_ node: ASN1Node) -> Int? {
        extensionValue(in: node, oid: KnownOID.reasonCode).flatMap { value in
            guard let parsed = try? DER.parse(value), case .primitive(let bytes) = parsed.content, bytes.count == 1 else { return nil }
            return Int(bytes.first!)
        }
    }

    private static func extensionValue(in node: ASN1Node, oid: [UInt8]) -> [UInt8]? {
        var pending = [node]
        while let current = pending.popLast() {
            guard case .constructed(let children) = current.content else { continue }
            let list = Array(children)
            if list.count >= 2, list[0].identifier == .objectIdentifier, case .primitive(let id) = list[0].content, id.elementsEqual(oid),
                case .primitive(let value) = list[list.count - 1].content
            {
                return Array(value)
            }
            pending += list
        }
        return nil
    }

    private static func bad(_ source: String, _ reason: String) -> TrustError {
        TrustError(.badRevocationList, "\(source) is not a valid revocation list: \(reason)")
    }
}
