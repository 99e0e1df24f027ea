/// A program as libbcc compiled it, in a form that loads without the compiler: the maps to
/// create, and each function's instructions with its map references recorded as map
/// numbers instead of the descriptors they held in the compiling process.
///
/// libbcc creates a program's maps while it compiles and writes each map's descriptor into
/// the `ld_imm64` instructions that load it (`src_reg` = `BPF_PSEUDO_MAP_FD`, the descriptor
/// in `imm`). ``init(functions:maps:license:kernelVersion:)`` finds those references;
/// ``instructions(of:mapDescriptors:)`` writes new descriptors in.
package struct CompiledObject: Sendable, Equatable {
    /// One map: what libbcc knows of it, and the flags `BPF_MAP_CREATE` takes beside that.
    package struct Map: Sendable, Equatable {
        package var table: TableInfo
        package var flags: UInt32

        package init(table: TableInfo, flags: UInt32) {
            self.table = table
            self.flags = flags
        }

        /// A map the library declares itself (an emitted program's): no type descriptions,
        /// no flags.
        package init(_ name: String, _ type: TableType, keySize: Int, valueSize: Int, entries: Int) {
            self.init(
                table: TableInfo(
                    name: name, type: type, keySize: keySize, leafSize: valueSize, maxEntries: entries,
                    keyDescription: nil, leafDescription: nil, submittedFields: []),
                flags: 0)
        }
    }

    /// One function: its instructions (8 bytes each, as the kernel reads them) with every map
    /// reference's `imm` zeroed, and where those references are.
    package struct Function: Sendable, Equatable {
        package var name: String
        package var instructions: [UInt64]
        package var mapReferences: [MapReference]

        package init(name: String, instructions: [UInt64], mapReferences: [MapReference]) {
            self.name = name
            self.instructions = instructions
            self.mapReferences = mapReferences
        }
    }

    /// The `ld_imm64` at `instruction` loads map number `map`.
    package struct MapReference: Sendable, Equatable {
        package var instruction: Int
        package var map: Int

        package init(instruction: Int, map: Int) {
            self.instruction = instruction
            self.map = map
        }
    }

    package var license: String
    package var kernelVersion: UInt32
    package var maps: [Map]
    package var functions: [Function]

    /// Why a compiled program cannot be kept: it refers to something that is not one of its
    /// own maps (a map of another program, a descriptor libbcc opened for a pinned map).
    package struct NotRelocatable: Error, Equatable {
        package let function: String
        package let instruction: Int
    }

    /// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 16-byte `ld_imm64`.
    package static let loadImmediate64: UInt8 = 0x18
    /// `src_reg` values of an `ld_imm64` whose `imm` is a map descriptor.
    package static let mapDescriptorSources: Set<UInt8> = [1, 2]  // BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE

    /// Records the map references of `functions` (instructions as compiled, holding
    /// `mapDescriptors[i]` for map `i`).
    ///
    /// - Throws: ``NotRelocatable`` when an instruction holds a descriptor that is not one of
    ///   the maps'.
    package init(
        functions: [(name: String, instructions: [UInt64])], maps: [Map], mapDescriptors: [Int32], license: String,
        kernelVersion: UInt32
    ) throws(NotRelocatable) {
        self.license = license
        self.kernelVersion = kernelVersion
        self.maps = maps
        self.functions = []
        for (name, compiled) in functions {
            var instructions = compiled
            var references: [MapReference] = []
            var index = 0
            while index < instructions.count {
                let word = instructions[index]
                if Self.opcode(word) == Self.loadImmediate64 {
                    if Self.mapDescriptorSources.contains(Self.sourceRegister(word)) {
                        guard let map = mapDescriptors.firstIndex(of: Self.immediate(word)) else {
                            throw NotRelocatable(function: name, instruction: index)
                        }
                        references.append(MapReference(instruction: index, map: map))
                        instructions[index] = Self.replacingImmediate(word, with: 0)
                    }
                    index += 2
                } else {
                    index += 1
                }
            }
            self.functions.append(Function(name: name, instructions: instructions, mapReferences: references))
        }
    }

    package init(license: String, kernelVersion: UInt32, maps: [Map], functions: [Function]) {
        self.license = license
        self.kernelVersion = kernelVersion
        self.maps = maps
        self.functions = functions
    }

    /// Function `name`'s instructions with `mapDescriptors[i]` written into each reference to
    /// map `i`; nil when there is no such function.
    package func instructions(of name: String, mapDescriptors: [Int32]) -> [UInt64]? {
        guard let function = functions.first(where: { $0.name == name }) else { return nil }
        var instructions = function.instructions
        for reference in function.mapReferences {
            instructions[reference.instruction] = Self.replacingImmediate(
                instructions[reference.instruction], with: mapDescriptors[reference.map])
        }
        return instructions
    }

    // An instruction, little-endian: code (8 bits), dst_reg (4) | src_reg (4) << 4, off (16), imm (32).
    package static func opcode(_ word: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: word) }
    package static func sourceRegister(_ word: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: word >> 12) & 0xF }
    package static func immediate(_ word: UInt64) -> Int32 { Int32(truncatingIfNeeded: word >> 32) }
    package static func replacingImmediate(_ word: UInt64, with value: Int32) -> UInt64 {
        (word & 0xFFFF_FFFF) | UInt64(UInt32(bitPattern: value)) << 32
    }
}
