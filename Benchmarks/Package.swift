// swift-tools-version:6.2
// The side-by-side benchmark of event delivery: a separate package, so that users of the
// EBPF library never build it. Run it with ./Benchmarks/run.sh (see the README).
import PackageDescription

let package = Package(
    name: "ebpf-benchmarks",
    dependencies: [
        // Named, so the root package is found whatever its checkout's directory is called.
        .package(name: "swift-ebpf", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "ebpf-bench",
            dependencies: [.product(name: "EBPF", package: "swift-ebpf")]),
    ],
    swiftLanguageModes: [.v6]
)
