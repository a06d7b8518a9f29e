import FuzzSupport
import SealdropFormat

// Fuzz target: the OpenSSH private-key file parser and the public-key
// parsers (authorized_keys line and wire blob).
//
// Properties: nothing traps; a parsed public key's line and blob parse back
// to the same key; a private part's public key is the file's public key
// whenever both decode (the parser promises to check it).
@main
enum FuzzOpenSSH {
    static func main() { fuzzMain(checkOpenSSH) }
}

func checkOpenSSH(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let file = try? OpenSSHPrivateKeyFile(text: text) {
        checkPublicKey(file.publicKey)
        if let part = try? file.decodePrivatePart(), part.publicKey.rawKey != file.publicKey.rawKey {
            fatalError("a private part names a public key other than the file's")
        }
    }
    if let key = try? SSHEd25519PublicKey(authorizedKeyText: text) {
        checkPublicKey(key)
    }
    if let key = try? SSHEd25519PublicKey(blob: bytes) {
        guard key.blob == bytes else { fatalError("a public key blob re-encodes to other bytes") }
        checkPublicKey(key)
    }
}

func checkPublicKey(_ key: SSHEd25519PublicKey) {
    guard let fromBlob = try? SSHEd25519PublicKey(blob: key.blob), fromBlob.rawKey == key.rawKey else {
        fatalError("a public key's blob does not parse back")
    }
    guard let fromLine = try? SSHEd25519PublicKey(authorizedKeyText: key.authorizedKeyLine), fromLine.rawKey == key.rawKey else {
        fatalError("a public key's authorized_keys line does not parse back")
    }
}
