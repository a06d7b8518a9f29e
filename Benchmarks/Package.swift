// swift-tools-version:6.1
import PackageDescription

// Micro-benchmarks of sealdrop's hot paths (ordo-one/benchmark), kept in a
// package of their own so that neither the main build nor CI compiles the
// benchmark framework. Run them with `ops/bench micro`.
let package = Package(
    name: "sealdrop-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "sealdrop", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SealdropMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SealdropBenchmarkable", package: "sealdrop"),
            ],
            path: "Benchmarks/SealdropMicro",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        )
    ]
)
