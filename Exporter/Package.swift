// swift-tools-version:6.2
// ebpf-exporter: kernel aggregations and BPF tables as Prometheus metrics. A separate
// package, so that users of the EBPF library never build its HTTP server.
// Run it with `swift run --package-path Exporter ebpf-exporter --config FILE` (see the README).
import PackageDescription

let package = Package(
    name: "ebpf-exporter",
    products: [
        .executable(name: "ebpf-exporter", targets: ["ebpf-exporter"]),
    ],
    dependencies: [
        // Named, so the root package is found whatever its checkout's directory is called.
        .package(name: "swift-ebpf", path: ".."),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // Dropping capabilities in every thread (capset(2) and prctl(2) are per thread, and
        // variadic or absent in Swift's view of glibc).
        .target(name: "CCapabilities"),
        // The configuration, the metrics' text and the HTTP service: everything but `main`.
        .target(
            name: "EBPFExporter",
            dependencies: [
                "CCapabilities",
                .product(name: "EBPF", package: "swift-ebpf"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                // bcrypt alone: hummingbird-auth's other products are not used.
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "ebpf-exporter",
            dependencies: [
                "EBPFExporter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The scrape-latency benchmark (Exporter/bench.sh); not a product.
        .executableTarget(
            name: "exporter-bench",
            dependencies: [
                "EBPFExporter",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "EBPFExporterTests", dependencies: ["EBPFExporter"]),
    ],
    swiftLanguageModes: [.v6]
)
