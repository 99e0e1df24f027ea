/// The memory mappings of a process, as `/proc/<pid>/maps` lists them
/// (`start-end perms offset dev inode path`).
package struct ProcessMappings {
    package struct Mapping: Equatable {
        package var start: UInt
        package var end: UInt
        /// `r-xp`: readable, executable, private.
        package var permissions: String
        /// The mapped file; empty for anonymous memory.
        package var path: String
    }

    package var mappings: [Mapping]

    /// Parses a maps text; lines that are not mappings are skipped.
    package init(parsing text: String) {
        mappings = text.split(separator: "\n").compactMap { line in
            let columns = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard columns.count >= 5 else { return nil }
            let bounds = columns[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                start < end
            else { return nil }
            let path = columns.count == 6 ? columns[5].trimmingBlanks() : ""
            return Mapping(start: start, end: end, permissions: String(columns[1]), path: path)
        }
    }

    /// This process's mappings now.
    package static func current() -> ProcessMappings {
        ProcessMappings(parsing: (try? SystemFiles.readText("/proc/self/maps")) ?? "")
    }

    /// The first mapped file whose name contains `fragment`.
    package func file(containing fragment: String) -> String? {
        mappings.first { $0.path.contains(fragment) }?.path
    }
}
