// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "swift-ebpf",
    products: [
        .library(name: "EBPF", targets: ["EBPF"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The library's health (events received and lost) as counters, for any backend.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // Only for the ebpf-trace example; the EBPF library does not depend on it.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libbcc (Debian's libbpfcc-dev). Nothing is compiled here: see Sources/CBCC/CBCC.h.
        // Not found through pkg-config: libbcc.pc links the compiler library (libbcc.so),
        // which the EBPF module opens only when it compiles.
        .systemLibrary(name: "CBCC"),
        // The kernel's perf ring and BPF ring buffer ABI, read without libbcc: see its header.
        .systemLibrary(name: "CKernelABI"),
        .target(
            name: "EBPF",
            dependencies: [
                "CBCC", "CKernelABI", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        .testTarget(
            name: "EBPFTests",
            dependencies: [
                "EBPF", .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            resources: [.copy("Fixtures")]),

        // Examples: `swift run NAME`. Not products, so packages depending on EBPF never build them.
        .target(name: "ExampleSupport", path: "Examples/Support"),
        .executableTarget(
            name: "ebpf-trace",
            dependencies: ["EBPF", "ExampleSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Trace"),
        .executableTarget(name: "hello", dependencies: ["EBPF", "ExampleSupport"], path: "Examples/Hello"),
        .executableTarget(name: "bind-printer", dependencies: ["EBPF", "ExampleSupport"], path: "Examples/BindPrinter"),
        .executableTarget(name: "hello-native", dependencies: ["EBPF", "ExampleSupport"], path: "Examples/HelloNative"),
        .executableTarget(name: "opensnoop", dependencies: ["EBPF", "ExampleSupport"], path: "Examples/OpenSnoop"),
        .executableTarget(name: "syscount", dependencies: ["EBPF", "ExampleSupport"], path: "Examples/SysCount"),
        .executableTarget(name: "readlatency", dependencies: ["EBPF", "ExampleSupport"], path: "Examples/ReadLatency"),
        .executableTarget(name: "profile", dependencies: ["EBPF", "ExampleSupport"], path: "Examples/Profile"),
    ],
    swiftLanguageModes: [.v6]
)
