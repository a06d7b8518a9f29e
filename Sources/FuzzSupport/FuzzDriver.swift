#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if FUZZING
    // libFuzzer's own driver. SwiftPM names an executable's entry point
    // itself, so libFuzzer's `main` is never linked: the target's `main`
    // hands over to the driver instead.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    // A C callback cannot capture, so the check is held here; it is set
    // once, before the driver starts.
    nonisolated(unsafe) private var currentCheck: (([UInt8]) -> Void)?

    /// libFuzzer's entry point for one input.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        currentCheck?(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    }
#endif

/// Runs a fuzz target's check. Built by `ops/fuzz` (`-sanitize=fuzzer,address
/// -DFUZZING`), it hands the check to libFuzzer; in a normal build it runs
/// the check once over each file named as an argument, so a crash input
/// replays without the sanitizer build.
public func fuzzMain(_ check: @escaping ([UInt8]) -> Void) -> Never {
    #if FUZZING
        currentCheck = check
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(
            runFuzzerDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    #else
        for path in CommandLine.arguments.dropFirst() {
            guard let file = fopen(path, "rb") else {
                print("cannot open \(path)")
                exit(2)
            }
            var bytes = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count <= 0 { break }
                bytes.append(contentsOf: chunk[0..<count])
            }
            fclose(file)
            check(bytes)
        }
        exit(0)
    #endif
}
