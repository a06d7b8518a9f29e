import Foundation
import SealdropIO
import Testing
import TestSupport

/// Files made relative to a held folder: plain names only, no link followed.
@Suite struct OutputDirectoryTests {
    @Test func namesThatAreNotPlainAreRefused() throws {
        let directory = try TemporaryDirectory()
        let folder = try OutputDirectory(path: directory.path)
        for name in ["", ".", "..", "../x", "/etc/passwd", "a/b", "a\u{0}b", String(repeating: "n", count: 256)] {
            #expect(OutputDirectory.problem(with: name) != nil, "\(name)")
            #expect(throws: IOError.self) { try AtomicOutputFile(in: folder, name: name) }
            #expect(throws: IOError.self) { try folder.openPrivateFile(name, create: true) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func aLinkAtTheNameIsNeverFollowed() throws {
        let directory = try TemporaryDirectory()
        let victim = try directory.write(Array("keep".utf8), to: "victim")
        try FileManager.default.createSymbolicLink(atPath: directory.file("link"), withDestinationPath: victim)
        let folder = try OutputDirectory(path: directory.path)
        #expect(throws: IOError.self) { try folder.openPrivateFile("link", create: true) }
        #expect(throws: IOError.self) { try folder.openForReading("link") }
        #expect(throws: IOError.self) { try AtomicOutputFile(in: folder, name: "link") }
        // With overwrite, the link itself is replaced; its target is untouched.
        let file = try AtomicOutputFile(in: folder, name: "link", overwrite: true)
        try Array("new".utf8).withUnsafeBytes { try file.write($0) }
        try file.commit()
        #expect(try directory.read("victim") == Array("keep".utf8))
        #expect(try directory.read("link") == Array("new".utf8))
        #expect((try FileManager.default.attributesOfItem(atPath: directory.file("link")))[.type] as? FileAttributeType == .typeRegular)
    }

    @Test func aHardLinkedPartFileIsRefused() throws {
        let directory = try TemporaryDirectory()
        let victim = try directory.write(Array("keep".utf8), to: "victim")
        #expect(link(victim, directory.file("part")) == 0)
        let folder = try OutputDirectory(path: directory.path)
        #expect(throws: IOError.self) { try folder.openPrivateFile("part", create: true) }
    }
}
