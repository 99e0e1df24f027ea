// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-ebpf",
    products: [
        .library(name: "EBPF", targets: ["EBPF"]),
    ],
    targets: [
        // libbcc, found through pkg-config. Nothing is compiled here: see Sources/CBCC/CBCC.h.
        .systemLibrary(
            name: "CBCC",
            pkgConfig: "libbcc",
            providers: [.apt(["libbpfcc-dev"])]
        ),
        .target(name: "EBPF", dependencies: ["CBCC"]),
        .testTarget(name: "EBPFTests", dependencies: ["EBPF"]),

        // Examples: `swift run NAME`. Not products, so packages depending on EBPF never build them.
        .executableTarget(name: "hello-native", dependencies: ["EBPF"], path: "Examples/HelloNative"),
        .executableTarget(name: "opensnoop", dependencies: ["EBPF"], path: "Examples/OpenSnoop"),
    ],
    swiftLanguageModes: [.v6]
)
