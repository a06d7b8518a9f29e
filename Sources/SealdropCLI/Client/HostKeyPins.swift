import Foundation

/// The drop box host keys a profile pins: one or more `SHA256:...`
/// fingerprints, comma-separated in the profile's `host-key` line (and in
/// `--host-key` / `SEALDROP_HOST_KEY`). More than one during a host-key
/// rollover: the old key until the drop box switches, the new one after.
enum HostKeyPins {
    /// The fingerprints in `text`, in order, without repeats.
    static func parse(_ text: String) -> [String] {
        var pins = [String]()
        for part in text.split(separator: ",") {
            let pin = part.trimmingCharacters(in: .whitespaces)
            if !pin.isEmpty, !pins.contains(pin) { pins.append(pin) }
        }
        return pins
    }

    static func join(_ pins: [String]) -> String { pins.joined(separator: ", ") }

    /// A fingerprint as sealdropd and `ssh-keygen -l` print it: `SHA256:` and 43 base64 characters.
    static func isFingerprint(_ text: String) -> Bool {
        text.hasPrefix("SHA256:") && text.count == 50
            && text.dropFirst(7).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/") }
    }
}
