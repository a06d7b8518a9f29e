import ArgumentParser
import Foundation
import SealdropClient

/// `sealdrop inbox` and `sealdrop status`: what waits for me, what I sent.
struct InboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inbox", abstract: "List the transfers waiting for you.")

    @Flag(help: "JSON for scripts.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() throws {
        let (dropBox, _) = try client.connect()
        TransferListing.print(try dropBox.inbox(), ownerTitle: "sender", json: json)
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "List what you sent and its state.")

    @Flag(help: "JSON for scripts.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() throws {
        let (dropBox, _) = try client.connect()
        TransferListing.print(try dropBox.status(), ownerTitle: "state", json: json)
    }
}

struct RevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a transfer you sent that has not been downloaded.")

    @Argument(help: ArgumentHelp("The transfer id.", valueName: "id"))
    var id: String

    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard id.count == 32, id.allSatisfy(\.isHexDigit) else { throw ValidationError("a transfer id is 32 hexadecimal digits") }
    }

    func run() throws {
        let (dropBox, _) = try client.connect()
        try dropBox.revoke(id)
        print("revoked transfer \(id.lowercased()); the drop box has deleted it")
    }
}

/// Rows from a checked listing: id, the owner column (sender or state),
/// size, times. Every value passes the one sanitiser on its way out, in the
/// table and in JSON, although the listing's checks already allow only
/// plain names.
enum TransferListing {
    /// One row of `inbox --json` / `status --json` (schema in README.md):
    /// sizes are JSON numbers, times RFC 3339 in UTC, an unknown expiry null.
    struct Row: Encodable {
        var id: String
        /// `inbox`: who sent it.
        var sender: String?
        /// `status`: where it is in its life.
        var state: String?
        var size: UInt64
        var uploaded: String
        var expires: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(id, forKey: .id)
            try container.encodeIfPresent(sender, forKey: .sender)
            try container.encodeIfPresent(state, forKey: .state)
            try container.encode(size, forKey: .size)
            try container.encode(uploaded, forKey: .uploaded)
            try container.encode(expires, forKey: .expires)  // null when unknown, never absent
        }

        enum Keys: String, CodingKey { case id, sender, state, size, uploaded, expires }
    }

    static func print(_ entries: [TransferEntry], ownerTitle: String, json: Bool) {
        let formatter = ISO8601DateFormatter()
        if json {
            let owner = { (entry: TransferEntry) in Terminal.printable((ownerTitle == "state" ? entry.state : entry.sender) ?? "?") }
            let rows = entries.map { entry in
                Row(
                    id: Terminal.printable(entry.id), sender: ownerTitle == "state" ? nil : owner(entry), state: ownerTitle == "state" ? owner(entry) : nil,
                    size: entry.size, uploaded: formatter.string(from: entry.uploaded), expires: entry.expires.map { formatter.string(from: $0) })
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            Swift.print(String(decoding: (try? encoder.encode(rows)) ?? Data("[]".utf8), as: UTF8.self))
            return
        }
        let rows = entries.map { entry -> [String: String] in
            [
                "id": Terminal.printable(entry.id),
                ownerTitle: Terminal.printable((ownerTitle == "state" ? entry.state : entry.sender) ?? "?"),
                "size": String(entry.size),
                "uploaded": formatter.string(from: entry.uploaded),
                "expires": entry.expires.map { formatter.string(from: $0) } ?? "?",
            ]
        }
        guard !rows.isEmpty else {
            Swift.print("nothing")
            return
        }
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        Swift.print("ID                                \(pad(ownerTitle.uppercased(), 12)) \(pad("SIZE", 14)) \(pad("UPLOADED", 21)) EXPIRES")
        for row in rows {
            Swift.print("\(row["id"]!)  \(pad(row[ownerTitle]!, 12)) \(pad(row["size"]!, 14)) \(pad(row["uploaded"]!, 21)) \(row["expires"]!)")
        }
    }
}
