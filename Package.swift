// swift-tools-version:6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"])
]

let package = Package(
    name: "sealdrop",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sealdrop", targets: ["sealdrop"]),
        .executable(name: "sealdropd", targets: ["sealdropd"]),
        // For the micro-benchmarks in Benchmarks/, a package of their own.
        .library(
            name: "SealdropBenchmarkable",
            targets: ["SealdropFormat", "SealdropSFTP", "SealdropCrypto", "SealdropKeys", "SealdropIO", "SealdropEnvelope"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries, each imported by exactly one Swift target.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "CLibSSH",
            pkgConfig: "libssh",
            providers: [.apt(["libssh-dev"])]
        ),

        // Pure formats: bytes in, values out. No I/O, no C.
        .target(
            name: "SealdropFormat",
            exclude: ["Spec"],
            swiftSettings: strictSettings
        ),

        // The drop box's virtual tree, name rules and attribute names: the
        // contract the server enforces and the client checks, in one place.
        .target(
            name: "SealdropLayout",
            swiftSettings: strictSettings
        ),

        // SFTP v3 (draft-ietf-secsh-filexfer-02) packets as values: no I/O, no C,
        // so a session can run over a libssh channel or over stdin/stdout.
        .target(
            name: "SealdropSFTP",
            dependencies: ["SealdropFormat"],
            swiftSettings: strictSettings
        ),

        // PROXY protocol v2 headers as values (what a TCP balancer writes
        // before the client's bytes): no I/O, no C.
        .target(
            name: "SealdropProxy",
            dependencies: ["SealdropFormat"],
            swiftSettings: strictSettings
        ),

        // libsodium behind typed Swift wrappers (the only importer of CSodium).
        // SHA-256 comes from swift-crypto: BoringSSL uses the CPU's SHA
        // extensions, about 8 times libsodium's portable code on this machine.
        .target(
            name: "SealdropCrypto",
            dependencies: ["CSodium", "SealdropFormat", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),

        // libssh behind typed Swift wrappers (the only importer of CLibSSH).
        .target(
            name: "SealdropSSH",
            dependencies: ["CLibSSH", "SealdropFormat", "SealdropProxy"],
            swiftSettings: strictSettings
        ),

        // Byte sources and sinks over file descriptors; atomic output files.
        .target(
            name: "SealdropIO",
            swiftSettings: strictSettings
        ),

        // Vendor identities: OpenSSH Ed25519 keys, fingerprints, passphrases.
        .target(
            name: "SealdropKeys",
            dependencies: ["SealdropFormat", "SealdropCrypto", "SealdropSSH", "SealdropIO"],
            swiftSettings: strictSettings
        ),

        // Vendor certificates: the CA, issuance, revocation lists, the trust
        // store and the one verifier that decides whether a name may be used.
        .target(
            name: "SealdropTrust",
            dependencies: [
                "SealdropFormat", "SealdropKeys", "SealdropCrypto", "SealdropIO", "SealdropLayout",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),

        // Transfer metadata and lifecycle: a store protocol, SQLite behind it.
        .target(
            name: "SealdropStore",
            dependencies: [
                "SealdropFormat", "SealdropLog",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),

        // The same store on PostgreSQL, for several nodes sharing metadata:
        // its own target so the SQLite-only build never links NIO.
        .target(
            name: "SealdropStorePostgres",
            dependencies: [
                "SealdropStore", "SealdropFormat", "SealdropLog",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // The drop box's metric names and labels, recorded through swift-metrics
        // into a Prometheus registry, and the textfile and loopback expositions.
        .target(
            name: "SealdropMetrics",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),

        // The drop box: the virtual tree, the SFTP session rules, uploads,
        // downloads, expiry. Transport-free: sessions take decoded packets.
        .target(
            name: "SealdropServer",
            dependencies: [
                "SealdropFormat", "SealdropSFTP", "SealdropStore", "SealdropTrust", "SealdropKeys", "SealdropEnvelope",
                "SealdropCrypto", "SealdropIO", "SealdropLog", "SealdropLayout", "SealdropMetrics",
            ],
            swiftSettings: strictSettings
        ),

        // The receipt log: an RFC 9162 Merkle tree over the server's events.
        .target(
            name: "SealdropLog",
            dependencies: ["SealdropCrypto", "SealdropFormat"],
            exclude: ["Spec"],
            swiftSettings: strictSettings
        ),

        // Streaming seal, open and keyless verification of envelope formats v1 and v2.
        // SHA-256 of whole envelopes comes from swift-crypto (BoringSSL uses the
        // CPU's SHA extensions; libsodium's portable SHA-256 is several times slower).
        .target(
            name: "SealdropEnvelope",
            dependencies: [
                "SealdropFormat", "SealdropCrypto", "SealdropKeys", "SealdropIO",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),

        // The vendor's side of the drop box: SSH connection, pipelined SFTP transfers.
        .target(
            name: "SealdropClient",
            dependencies: [
                "SealdropSFTP", "SealdropSSH", "SealdropIO", "SealdropKeys", "SealdropFormat", "SealdropLayout", "SealdropTrust", "SealdropEnvelope",
                "SealdropLog", "SealdropCrypto",
            ],
            swiftSettings: strictSettings
        ),

        // The `sealdrop` command line: parsing, messages, exit codes.
        .target(
            name: "SealdropCLI",
            dependencies: [
                "SealdropFormat", "SealdropKeys", "SealdropEnvelope", "SealdropIO", "SealdropCrypto", "SealdropSSH",
                "SealdropTrust", "SealdropClient", "SealdropSFTP", "SealdropLog", "SealdropLayout",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),

        // The `sealdropd` command line: configuration, serving, the subsystem mode.
        .target(
            name: "SealdropDaemon",
            dependencies: [
                "SealdropServer", "SealdropSSH", "SealdropTrust", "SealdropKeys", "SealdropSFTP", "SealdropProxy", "SealdropStore", "SealdropStorePostgres",
                "SealdropFormat", "SealdropLog", "SealdropMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // Thin executables.
        .executableTarget(
            name: "sealdrop",
            dependencies: ["SealdropCLI"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "sealdropd",
            dependencies: ["SealdropDaemon"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "log-vectors",
            dependencies: ["SealdropLog", "SealdropKeys", "SealdropCrypto", "SealdropFormat"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "store-bench",
            dependencies: ["SealdropStore", "SealdropStorePostgres"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "envelope-vectors",
            dependencies: ["SealdropEnvelope", "SealdropKeys", "SealdropCrypto", "SealdropFormat"],
            swiftSettings: strictSettings
        ),

        // libFuzzer targets (ops/fuzz builds them with -sanitize=fuzzer,address
        // and -DFUZZING); a normal build gives a driver that replays files.
        .target(
            name: "FuzzSupport",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzSFTP",
            dependencies: ["FuzzSupport", "SealdropSFTP", "SealdropFormat"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzEnvelope",
            dependencies: ["FuzzSupport", "SealdropFormat"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzProxyHeader",
            dependencies: ["FuzzSupport", "SealdropProxy"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzOpenSSH",
            dependencies: ["FuzzSupport", "SealdropFormat"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzLog",
            dependencies: ["FuzzSupport", "SealdropLog", "SealdropCrypto", "SealdropFormat"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzLogExport",
            dependencies: ["FuzzSupport", "SealdropLog"],
            swiftSettings: strictSettings
        ),
        // FuzzSettings, FuzzTrust and FuzzSession read internals with `@testable import`:
        // ops/fuzz builds with -enable-testing, as a debug build does.
        .executableTarget(
            name: "FuzzSettings",
            dependencies: ["FuzzSupport", "SealdropDaemon"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzTrust",
            dependencies: [
                "FuzzSupport", "SealdropTrust", "SealdropCrypto",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzSession",
            dependencies: [
                "FuzzSupport", "SealdropServer", "SealdropSFTP", "SealdropStore", "SealdropTrust", "SealdropKeys", "SealdropEnvelope",
                "SealdropFormat", "SealdropIO", "SealdropCrypto", "SealdropLayout",
            ],
            swiftSettings: strictSettings
        ),

        // Tests, one target per concern.
        .testTarget(
            name: "SealdropFormatTests",
            dependencies: ["SealdropFormat"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropCryptoTests",
            dependencies: ["SealdropCrypto", "SealdropFormat"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropTrustTests",
            dependencies: ["SealdropTrust", "SealdropKeys", "SealdropFormat", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropLayoutTests",
            dependencies: ["SealdropLayout"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropProxyTests",
            dependencies: ["SealdropProxy"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropSFTPTests",
            dependencies: ["SealdropSFTP", "SealdropFormat"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropStoreTests",
            dependencies: ["SealdropStore", "SealdropStorePostgres", "SealdropLog", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropServerTests",
            dependencies: [
                "SealdropServer", "SealdropSFTP", "SealdropStore", "SealdropTrust", "SealdropKeys", "SealdropFormat", "SealdropEnvelope",
                "SealdropIO", "SealdropDaemon", "SealdropLog", "SealdropLayout", "SealdropProxy", "SealdropMetrics", "SealdropStorePostgres",
                "TestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropLogTests",
            dependencies: ["SealdropLog", "SealdropFormat", "SealdropCrypto", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropIOTests",
            dependencies: ["SealdropIO", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropKeysTests",
            dependencies: ["SealdropKeys", "SealdropFormat", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropEnvelopeTests",
            dependencies: ["SealdropEnvelope", "SealdropKeys", "SealdropFormat", "SealdropIO", "SealdropCrypto", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropClientTests",
            dependencies: [
                "SealdropClient", "SealdropSSH", "SealdropSFTP", "SealdropTrust", "SealdropKeys", "SealdropEnvelope", "SealdropFormat", "SealdropIO",
                "SealdropLayout", "SealdropLog", "TestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SealdropCLITests",
            dependencies: ["TestSupport"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
