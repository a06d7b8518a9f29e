import ArgumentParser
import Foundation
import SealdropSFTP

/// `sealdrop inbox` and `sealdrop status`: what waits for me, what I sent.
struct InboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inbox", abstract: "List the transfers waiting for you.")

    @Flag(help: "JSON for scripts.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() throws {
        let (dropBox, _) = try client.resolve().connect()
        TransferListing.print(try dropBox.sftp.list("/inbox"), ownerTitle: "sender", json: json)
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "List what you sent and its state.")

    @Flag(help: "JSON for scripts.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() throws {
        let (dropBox, _) = try client.resolve().connect()
        TransferListing.print(try dropBox.sftp.list("/sent"), ownerTitle: "state", json: json)
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
        let (dropBox, _) = try client.resolve().connect()
        try dropBox.sftp.remove("/sent/\(id.lowercased()).sealdrop")
        print("revoked transfer \(id.lowercased()); the drop box has deleted it")
    }
}

/// Rows from the server's listing: id, the owner column (sender or state), size, time.
enum TransferListing {
    static func print(_ entries: [SFTPNameEntry], ownerTitle: String, json: Bool) {
        let formatter = ISO8601DateFormatter()
        let rows = entries.compactMap { entry -> [String: String]? in
            let name = String(decoding: entry.filename, as: UTF8.self)
            guard name.hasSuffix(".sealdrop") else { return nil }
            let fields = String(decoding: entry.longname, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
            let owner = fields.count > 2 ? String(fields[2]) : "?"
            let time = Date(timeIntervalSince1970: TimeInterval(entry.attributes.modificationTime ?? 0))
            let expires =
                entry.attributes.extended.first { $0.type == Array("expires@sealdrop".utf8) }
                .flatMap { Int(String(decoding: $0.data, as: UTF8.self)) }
                .map { formatter.string(from: Date(timeIntervalSince1970: TimeInterval($0))) } ?? "?"
            return [
                "id": String(name.dropLast(9)), ownerTitle: Terminal.printable(owner), "size": String(entry.attributes.size ?? 0),
                "uploaded": formatter.string(from: time), "expires": expires,
            ]
        }
        if json {
            let data = (try? JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])) ?? Data("[]".utf8)
            Swift.print(String(decoding: data, as: UTF8.self))
            return
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
