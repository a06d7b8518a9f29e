import SealdropFormat

/// Every SFTP v3 packet (draft-ietf-secsh-filexfer-02 §3-§7) as a value.
///
/// This is the one large wire file: one enum case per packet type, with the
/// encoding and decoding of each side by side. No I/O, no C.
public enum SFTPMessage: Equatable, Sendable {
    // Client to server.
    case initialize(version: UInt32, extensions: [SFTPExtensionPair])
    case open(id: UInt32, path: [UInt8], flags: SFTPOpenFlags, attributes: SFTPAttributes)
    case close(id: UInt32, handle: [UInt8])
    case read(id: UInt32, handle: [UInt8], offset: UInt64, length: UInt32)
    case write(id: UInt32, handle: [UInt8], offset: UInt64, data: [UInt8])
    case lstat(id: UInt32, path: [UInt8])
    case fstat(id: UInt32, handle: [UInt8])
    case setstat(id: UInt32, path: [UInt8], attributes: SFTPAttributes)
    case fsetstat(id: UInt32, handle: [UInt8], attributes: SFTPAttributes)
    case opendir(id: UInt32, path: [UInt8])
    case readdir(id: UInt32, handle: [UInt8])
    case remove(id: UInt32, path: [UInt8])
    case mkdir(id: UInt32, path: [UInt8], attributes: SFTPAttributes)
    case rmdir(id: UInt32, path: [UInt8])
    case realpath(id: UInt32, path: [UInt8])
    case stat(id: UInt32, path: [UInt8])
    case rename(id: UInt32, from: [UInt8], to: [UInt8])
    case readlink(id: UInt32, path: [UInt8])
    case symlink(id: UInt32, linkPath: [UInt8], targetPath: [UInt8])
    case extended(id: UInt32, request: [UInt8], data: [UInt8])

    // Server to client.
    case version(version: UInt32, extensions: [SFTPExtensionPair])
    case status(id: UInt32, code: SFTPStatusCode, message: String)
    case handle(id: UInt32, handle: [UInt8])
    case data(id: UInt32, data: [UInt8])
    case name(id: UInt32, entries: [SFTPNameEntry])
    case attributes(id: UInt32, attributes: SFTPAttributes)
    case extendedReply(id: UInt32, data: [UInt8])

    /// The SSH_FXP_* type byte.
    public enum PacketType: UInt8, Sendable, CaseIterable {
        case initialize = 1, version = 2, open = 3, close = 4, read = 5, write = 6, lstat = 7, fstat = 8
        case setstat = 9, fsetstat = 10, opendir = 11, readdir = 12, remove = 13, mkdir = 14, rmdir = 15
        case realpath = 16, stat = 17, rename = 18, readlink = 19, symlink = 20
        case status = 101, handle = 102, data = 103, name = 104, attributes = 105
        case extended = 200, extendedReply = 201

        /// Sent by a client (INIT and the requests), as opposed to a server's replies.
        public var isRequest: Bool {
            switch self {
            case .version, .status, .handle, .data, .name, .attributes, .extendedReply: false
            default: true
            }
        }
    }

    public var packetType: PacketType {
        switch self {
        case .initialize: .initialize
        case .open: .open
        case .close: .close
        case .read: .read
        case .write: .write
        case .lstat: .lstat
        case .fstat: .fstat
        case .setstat: .setstat
        case .fsetstat: .fsetstat
        case .opendir: .opendir
        case .readdir: .readdir
        case .remove: .remove
        case .mkdir: .mkdir
        case .rmdir: .rmdir
        case .realpath: .realpath
        case .stat: .stat
        case .rename: .rename
        case .readlink: .readlink
        case .symlink: .symlink
        case .extended: .extended
        case .version: .version
        case .status: .status
        case .handle: .handle
        case .data: .data
        case .name: .name
        case .attributes: .attributes
        case .extendedReply: .extendedReply
        }
    }

    /// The request id, for every packet but INIT and VERSION.
    public var requestID: UInt32? {
        switch self {
        case .initialize, .version: nil
        case .open(let id, _, _, _), .close(let id, _), .read(let id, _, _, _), .write(let id, _, _, _),
            .lstat(let id, _), .fstat(let id, _), .setstat(let id, _, _), .fsetstat(let id, _, _),
            .opendir(let id, _), .readdir(let id, _), .remove(let id, _), .mkdir(let id, _, _), .rmdir(let id, _),
            .realpath(let id, _), .stat(let id, _), .rename(let id, _, _), .readlink(let id, _),
            .symlink(let id, _, _), .extended(let id, _, _), .status(let id, _, _), .handle(let id, _),
            .data(let id, _), .name(let id, _), .attributes(let id, _), .extendedReply(let id, _):
            id
        }
    }

    /// The whole packet: uint32 length, type, payload.
    public func encode() -> [UInt8] {
        // The bulk packets are built in one array, their data copied once.
        switch self {
        case .write(let id, let handle, let offset, let data):
            var packet = Self.writePrefix(id: id, handle: handle, offset: offset, dataCount: data.count, reservingCapacity: data.count)
            packet.append(contentsOf: data)
            return packet
        case .data(let id, let data):
            var packet = [UInt8]()
            packet.reserveCapacity(Self.dataPrefixLength + data.count)
            Self.appendBigEndian(UInt32(1 + 4 + 4 + data.count), to: &packet)
            packet.append(PacketType.data.rawValue)
            Self.appendBigEndian(id, to: &packet)
            Self.appendBigEndian(UInt32(data.count), to: &packet)
            packet.append(contentsOf: data)
            return packet
        default:
            break
        }
        var body = WireWriter(reservingCapacity: 64)
        body.writeUInt8(packetType.rawValue)
        switch self {
        case .initialize(let version, let extensions), .version(let version, let extensions):
            body.writeUInt32(version)
            for pair in extensions {
                body.writeSSHString(pair.name)
                body.writeSSHString(pair.data)
            }
        case .open(let id, let path, let flags, let attributes):
            body.writeUInt32(id)
            body.writeSSHString(path)
            body.writeUInt32(flags.rawValue)
            attributes.encode(into: &body)
        case .close(let id, let handle), .fstat(let id, let handle), .readdir(let id, let handle), .handle(let id, let handle):
            body.writeUInt32(id)
            body.writeSSHString(handle)
        case .read(let id, let handle, let offset, let length):
            body.writeUInt32(id)
            body.writeSSHString(handle)
            body.writeUInt64(offset)
            body.writeUInt32(length)
        case .write(let id, let handle, let offset, let data):
            body.writeUInt32(id)
            body.writeSSHString(handle)
            body.writeUInt64(offset)
            body.writeSSHString(data)
        case .lstat(let id, let path), .opendir(let id, let path), .remove(let id, let path), .rmdir(let id, let path),
            .realpath(let id, let path), .stat(let id, let path), .readlink(let id, let path):
            body.writeUInt32(id)
            body.writeSSHString(path)
        case .setstat(let id, let path, let attributes), .mkdir(let id, let path, let attributes),
            .fsetstat(let id, let path, let attributes):
            body.writeUInt32(id)
            body.writeSSHString(path)
            attributes.encode(into: &body)
        case .rename(let id, let first, let second), .symlink(let id, let first, let second):
            body.writeUInt32(id)
            body.writeSSHString(first)
            body.writeSSHString(second)
        case .extended(let id, let request, let data):
            body.writeUInt32(id)
            body.writeSSHString(request)
            body.write(data)
        case .status(let id, let code, let message):
            body.writeUInt32(id)
            body.writeUInt32(code.rawValue)
            body.writeSSHString(Array(message.utf8))
            body.writeSSHString(Array("en".utf8))
        case .data(let id, let data):
            body.writeUInt32(id)
            body.writeSSHString(data)
        case .name(let id, let entries):
            body.writeUInt32(id)
            body.writeUInt32(UInt32(entries.count))
            for entry in entries {
                body.writeSSHString(entry.filename)
                body.writeSSHString(entry.longname)
                entry.attributes.encode(into: &body)
            }
        case .attributes(let id, let attributes):
            body.writeUInt32(id)
            attributes.encode(into: &body)
        case .extendedReply(let id, let data):
            body.writeUInt32(id)
            body.write(data)
        }
        var packet = WireWriter(reservingCapacity: body.bytes.count + 4)
        packet.writeUInt32(UInt32(body.bytes.count))
        packet.write(body.bytes)
        return packet.bytes
    }

    /// Bytes of a DATA packet before its data: length, type, id, data length.
    public static let dataPrefixLength = 4 + 1 + 4 + 4

    /// Bytes of a WRITE packet before its data: length, type, id, handle,
    /// offset, data length.
    public static func writePrefixLength(handleCount: Int) -> Int {
        4 + 1 + 4 + 4 + handleCount + 8 + 4
    }

    /// The bytes of `.write(id:handle:offset:data:).encode()` that come
    /// before `dataCount` bytes of data, so that a sender can build the
    /// packet around data already in place (`writePrefixLength` bytes,
    /// with room reserved for `reservingCapacity` more).
    public static func writePrefix(id: UInt32, handle: [UInt8], offset: UInt64, dataCount: Int, reservingCapacity extra: Int = 0) -> [UInt8] {
        var packet = [UInt8]()
        packet.reserveCapacity(writePrefixLength(handleCount: handle.count) + extra)
        appendBigEndian(UInt32(1 + 4 + 4 + handle.count + 8 + 4 + dataCount), to: &packet)
        packet.append(PacketType.write.rawValue)
        appendBigEndian(id, to: &packet)
        appendBigEndian(UInt32(handle.count), to: &packet)
        packet.append(contentsOf: handle)
        appendBigEndian(UInt32(truncatingIfNeeded: offset >> 32), to: &packet)
        appendBigEndian(UInt32(truncatingIfNeeded: offset), to: &packet)
        appendBigEndian(UInt32(dataCount), to: &packet)
        return packet
    }

    private static func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Decodes one packet body (type byte and payload, length already removed).
    public static func decode(_ body: ArraySlice<UInt8>) throws(SFTPError) -> SFTPMessage {
        guard let typeByte = body.first else { throw SFTPError(.truncated, "an empty packet has no type") }
        guard let type = PacketType(rawValue: typeByte) else {
            var reader = WireReader(body.dropFirst())
            throw SFTPError(.unknownType, "packet type \(typeByte) is not part of SFTP version 3", requestID: try? reader.readUInt32())
        }
        var reader = WireReader(body.dropFirst())
        var id: UInt32?
        do {
            let message = try decode(type, &reader, &id)
            // Bytes after a request's fields are ignored, as OpenSSH's
            // sftp-server does (some clients send them after WRITE data); the
            // framer has already bounded the packet. Replies stay strict: a
            // client has no reason to accept a server's sloppy packets.
            guard reader.isAtEnd || type.isRequest || type == .extendedReply else {
                throw SFTPError(.trailingBytes, "the \(type) packet has \(reader.remainingCount) bytes after its fields", requestID: id)
            }
            return message
        } catch let error as SFTPError {
            throw SFTPError(error.code, error.message, requestID: error.requestID ?? id)
        } catch WireError.lengthTooLarge(let declared, let limit) {
            throw SFTPError(.fieldTooLong, "the \(type) packet has a \(declared)-byte field, more than \(limit)", requestID: id)
        } catch {
            throw SFTPError(.truncated, "the \(type) packet is cut short", requestID: id)
        }
    }

    private static func decode(_ type: PacketType, _ reader: inout WireReader, _ id: inout UInt32?) throws -> SFTPMessage {
        func path() throws -> [UInt8] { Array(try reader.readSSHString(maximumLength: SFTPLimits.maximumPathLength)) }
        func handle() throws -> [UInt8] { Array(try reader.readSSHString(maximumLength: SFTPLimits.maximumHandleLength)) }
        func payload() throws -> [UInt8] { Array(try reader.readSSHString(maximumLength: SFTPLimits.maximumPacketLength)) }

        switch type {
        case .initialize, .version:
            let version = try reader.readUInt32()
            var extensions = [SFTPExtensionPair]()
            while !reader.isAtEnd {
                extensions.append(SFTPExtensionPair(name: try payload(), data: try payload()))
            }
            return type == .initialize ? .initialize(version: version, extensions: extensions) : .version(version: version, extensions: extensions)
        default:
            break
        }
        let requestID = try reader.readUInt32()
        id = requestID
        switch type {
        case .initialize, .version:
            preconditionFailure("handled above")
        case .open:
            let name = try path()
            let flags = SFTPOpenFlags(rawValue: try reader.readUInt32())
            return .open(id: requestID, path: name, flags: flags, attributes: try SFTPAttributes.decode(from: &reader))
        case .close: return .close(id: requestID, handle: try handle())
        case .read: return .read(id: requestID, handle: try handle(), offset: try reader.readUInt64(), length: try reader.readUInt32())
        case .write: return .write(id: requestID, handle: try handle(), offset: try reader.readUInt64(), data: try payload())
        case .lstat: return .lstat(id: requestID, path: try path())
        case .fstat: return .fstat(id: requestID, handle: try handle())
        case .setstat: return .setstat(id: requestID, path: try path(), attributes: try SFTPAttributes.decode(from: &reader))
        case .fsetstat: return .fsetstat(id: requestID, handle: try handle(), attributes: try SFTPAttributes.decode(from: &reader))
        case .opendir: return .opendir(id: requestID, path: try path())
        case .readdir: return .readdir(id: requestID, handle: try handle())
        case .remove: return .remove(id: requestID, path: try path())
        case .mkdir: return .mkdir(id: requestID, path: try path(), attributes: try SFTPAttributes.decode(from: &reader))
        case .rmdir: return .rmdir(id: requestID, path: try path())
        case .realpath: return .realpath(id: requestID, path: try path())
        case .stat: return .stat(id: requestID, path: try path())
        case .rename: return .rename(id: requestID, from: try path(), to: try path())
        case .readlink: return .readlink(id: requestID, path: try path())
        case .symlink: return .symlink(id: requestID, linkPath: try path(), targetPath: try path())
        case .extended:
            let request = Array(try reader.readSSHString(maximumLength: 256))
            return .extended(id: requestID, request: request, data: Array(try reader.readBytes(reader.remainingCount)))
        case .status:
            let raw = try reader.readUInt32()
            guard let code = SFTPStatusCode(rawValue: raw) else {
                throw SFTPError(.malformed, "status code \(raw) is not defined in version 3", requestID: requestID)
            }
            let message = String(decoding: try payload(), as: UTF8.self)
            // The language tag is optional in practice: some servers omit it.
            if !reader.isAtEnd { _ = try payload() }
            return .status(id: requestID, code: code, message: message)
        case .handle: return .handle(id: requestID, handle: try handle())
        case .data: return .data(id: requestID, data: try payload())
        case .name:
            let count = try reader.readUInt32()
            guard count <= SFTPLimits.maximumNamesPerReply else {
                throw SFTPError(.fieldTooLong, "a NAME reply declares \(count) entries, more than \(SFTPLimits.maximumNamesPerReply)", requestID: requestID)
            }
            var entries = [SFTPNameEntry]()
            for _ in 0..<count {
                entries.append(SFTPNameEntry(filename: try path(), longname: try payload(), attributes: try SFTPAttributes.decode(from: &reader)))
            }
            return .name(id: requestID, entries: entries)
        case .attributes: return .attributes(id: requestID, attributes: try SFTPAttributes.decode(from: &reader))
        case .extendedReply: return .extendedReply(id: requestID, data: Array(try reader.readBytes(reader.remainingCount)))
        }
    }
}

/// An extension name and its data, in INIT and VERSION.
public struct SFTPExtensionPair: Equatable, Sendable {
    public var name: [UInt8]
    public var data: [UInt8]

    public init(name: [UInt8], data: [UInt8]) {
        self.name = name
        self.data = data
    }

    public init(name: String, data: String) {
        self.init(name: Array(name.utf8), data: Array(data.utf8))
    }
}

/// One entry of a NAME reply: the name, an `ls -l` style line, attributes.
public struct SFTPNameEntry: Equatable, Sendable {
    public var filename: [UInt8]
    public var longname: [UInt8]
    public var attributes: SFTPAttributes

    public init(filename: [UInt8], longname: [UInt8], attributes: SFTPAttributes) {
        self.filename = filename
        self.longname = longname
        self.attributes = attributes
    }
}
