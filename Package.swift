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
    ],
    swiftLanguageModes: [.v6]
)
