/// What the sender says about the file, carried encrypted in message 0:
/// its name and an optional note for the recipient.
public struct FileDescription: Equatable, Sendable {
    /// A single path component chosen by the sender, or "" when unnamed
    /// (sealed from standard input without a name).
    public var fileName: String
    public var note: String

    public init(fileName: String, note: String = "") throws(EnvelopeError) {
        try Self.validate(fileName: fileName, note: note)
        self.fileName = fileName
        self.note = note
    }

    private init(unchecked fileName: String, note: String) {
        self.fileName = fileName
        self.note = note
    }

    /// `uint16 name length, name, uint16 note length, note`, zero-padded to a whole chunk.
    public func encode() -> [UInt8] {
        var writer = WireWriter(reservingCapacity: EnvelopeFormat.chunkSize)
        let name = Array(fileName.utf8)
        let noteBytes = Array(note.utf8)
        writer.writeUInt16(UInt16(name.count))
        writer.write(name)
        writer.writeUInt16(UInt16(noteBytes.count))
        writer.write(noteBytes)
        var message = writer.bytes
        message.append(contentsOf: repeatElement(0, count: EnvelopeFormat.chunkSize - message.count))
        return message
    }

    public static func decode(_ message: [UInt8]) throws(EnvelopeError) -> FileDescription {
        guard message.count == EnvelopeFormat.chunkSize else {
            throw .malformedMetadata("it holds \(message.count) bytes instead of \(EnvelopeFormat.chunkSize)")
        }
        var reader = WireReader(message)
        let name: ArraySlice<UInt8>
        let note: ArraySlice<UInt8>
        do {
            name = try reader.readBytes(Int(try reader.readUInt16()))
            note = try reader.readBytes(Int(try reader.readUInt16()))
        } catch {
            throw .malformedMetadata("a length runs past the end of the message")
        }
        guard reader.bytes.allSatisfy({ $0 == 0 }) else {
            throw .malformedMetadata("its padding is not all zeros")
        }
        guard let nameText = String(validating: name, as: UTF8.self),
            let noteText = String(validating: note, as: UTF8.self)
        else {
            throw .malformedMetadata("the file name or note is not valid UTF-8")
        }
        try validate(fileName: nameText, note: noteText)
        return FileDescription(unchecked: nameText, note: noteText)
    }

    /// The rules of the spec: the name is one path component without control
    /// or formatting characters (`TextSafety`) and within
    /// `maximumFileNameLength`; the note is within `maximumNoteLength` and
    /// has none of those characters but line feeds.
    public static func validate(fileName: String, note: String) throws(EnvelopeError) {
        if let problem = problem(fileName: fileName, note: note) {
            throw .malformedMetadata(problem)
        }
    }

    /// What breaks the rules, in words, or nil.
    public static func problem(fileName: String, note: String) -> String? {
        let nameLength = fileName.utf8.count
        if nameLength > EnvelopeFormat.maximumFileNameLength {
            return "the file name is \(nameLength) bytes, more than \(EnvelopeFormat.maximumFileNameLength)"
        }
        if fileName == "." || fileName == ".." || fileName.contains("/") || fileName.unicodeScalars.contains(where: TextSafety.isUnsafe) {
            return "the file name must be a single path component without control or formatting characters"
        }
        let noteLength = note.utf8.count
        if noteLength > EnvelopeFormat.maximumNoteLength {
            return "the note is \(noteLength) bytes, more than \(EnvelopeFormat.maximumNoteLength)"
        }
        if note.unicodeScalars.contains(where: { $0 != "\n" && TextSafety.isUnsafe($0) }) {
            return "the note contains control or formatting characters"
        }
        return nil
    }
}
