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
        // Only for ebpf-trace. An executable target of this package, not a declared product,
        // so packages depending on EBPF never resolve it (a declared product's dependencies
        // are resolved by every client: scripts/check-dependencies.sh checks); it is built
        // and installed from a clone: `swift package experimental-install --product ebpf-trace`.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libbcc (Debian's libbpfcc-dev). Nothing is compiled here: see Sources/CBCC/CBCC.h.
        // Not found through pkg-config: libbcc.pc links the compiler library (libbcc.so),
        // which the EBPF module opens only when it compiles.
        .systemLibrary(name: "CBCC"),
        // The kernel's perf ring and BPF ring buffer ABI, read without libbcc: see its header.
        .systemLibrary(name: "CKernelABI"),
        // The layers, each using only those before it (README "Contributing: the layers";
        // scripts/check-layers.sh checks the map against this file and the imports).
        // The kernel boundary: every libbcc call and system call, package access only but for
        // the values users see (EBPFError, ProgramType, TableType, USDTProbe, USDTArgument),
        // which EBPF re-exports.
        .target(name: "EBPFKernel", dependencies: ["CBCC", "CKernelABI"]),
        // Programs, compiled or built, and the bytes they exchange: the compile cache, the
        // instruction encoder, record and table layouts, BTF.
        .target(name: "EBPFProgram", dependencies: ["EBPFKernel"]),
        // The library users import: attach points, buffers, tables, closure probes,
        // aggregations, symbols, and the EBPFWrapper façade.
        .target(
            name: "EBPF",
            dependencies: [
                "EBPFKernel", "EBPFProgram", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]),
        .testTarget(
            name: "EBPFTests",
            dependencies: [
                "EBPF", "EBPFKernel", "EBPFProgram", "CTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            resources: [.copy("Fixtures")]),
        // What the kernel tests need in C: a child started with a chosen pid (clone3).
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        // The fast tier: parsers, generators, layouts and the attach-point grammar, with no
        // kernel, root or libbcc compile (`swift test --filter EBPFUnitTests`; test.sh runs it
        // as an unprivileged user).
        .testTarget(
            name: "EBPFUnitTests", dependencies: ["EBPF", "EBPFKernel", "EBPFProgram"],
            resources: [.copy("Fixtures")]),

        // What ebpf-trace and the examples share: status lines and text safe for a terminal.
        .target(name: "CommandLineSupport"),
        .executableTarget(
            name: "ebpf-trace",
            dependencies: [
                "EBPF", "CommandLineSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Examples: `swift run NAME`. Not products, so packages depending on EBPF never build them.
        .executableTarget(name: "hello", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/Hello"),
        .executableTarget(name: "bind-printer", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/BindPrinter"),
        .executableTarget(name: "hello-native", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/HelloNative"),
        .executableTarget(name: "opensnoop", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/OpenSnoop"),
        .executableTarget(name: "syscount", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/SysCount"),
        .executableTarget(name: "readlatency", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/ReadLatency"),
        .executableTarget(name: "profile", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/Profile"),
        .executableTarget(
            name: "xdp-protocols", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/XDPProtocols"),
        .executableTarget(name: "tc-port-bytes", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/TCPortBytes"),
        .executableTarget(name: "http-filter", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/HTTPFilter"),
        .executableTarget(
            name: "lsm-deny-open", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/LSMDenyOpen"),
        .executableTarget(
            name: "pinned-counter", dependencies: ["EBPF", "CommandLineSupport"], path: "Examples/PinnedCounter"),
    ],
    swiftLanguageModes: [.v6]
)
