// swift-tools-version:6.2
// libFuzzer targets for the parsers that read what the kernel and libbcc hand over: the
// tracepoint format parser, the by-name record decoder, libbcc's table type descriptions,
// trace pipe lines, socket addresses, compile cache entries, the kernel's BTF and the
// attach-point grammar. Built and run by Fuzz/run.sh
// (swiftc's -sanitize=fuzzer,address); a separate package so that plain builds never see
// the fuzzer flags.
import PackageDescription

let package = Package(
    name: "ebpf-fuzz",
    dependencies: [.package(name: "swift-ebpf", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "ebpf-fuzz-format", dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "ebpf-fuzz-record", dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "ebpf-fuzz-table", dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "ebpf-fuzz-trace-line", dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "ebpf-fuzz-socket-address",
            dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "ebpf-fuzz-btf", dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "ebpf-fuzz-attach-point",
            dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "ebpf-fuzz-elf", dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "ebpf-fuzz-cache-entry",
            dependencies: ["FuzzSupport", .product(name: "EBPF", package: "swift-ebpf")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ],
    swiftLanguageModes: [.v6]
)
