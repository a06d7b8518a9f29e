#if canImport(Glibc)
    import Glibc
#endif

/// `mkstemp` with close-on-exec, returning the descriptor and the path made.
enum TemporaryName {
    static func create(template: String, describing path: String) throws(IOError) -> (Int32, String) {
        var buffer = Array(template.utf8CString)
        let fd = try buffer.withUnsafeMutableBufferPointer { (pointer) throws(IOError) -> Int32 in
            try systemCall("create a temporary file for", path) { mkstemp(pointer.baseAddress!) }
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (fd, name)
    }
}

extension TemporaryName {
    /// Twelve random letters and digits for a hidden temporary name.
    static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<12).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] }, as: UTF8.self)
    }
}
