import EBPFKernel

/// Memory a hardware breakpoint watches (``AttachPoint/watchpoint(_:pid:)``): `length`
/// bytes at `address`, hit on the accesses `access` names, as bpftrace's
/// `watchpoint:0x10000000:8:w`.
///
/// The CPU decides what it can watch: an aligned 1, 2, 4 or 8 bytes; on x86 not reads
/// alone (watch `[.read, .write]`), and an execution only as the machine word at an
/// instruction's address. Four can be armed at once per CPU.
public struct Watchpoint: Hashable, Sendable, CustomStringConvertible {
    /// The kinds of access to catch (`HW_BREAKPOINT_R`, `_W`, `_X`).
    public struct Access: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let read = Access(rawValue: 1)
        public static let write = Access(rawValue: 2)
        public static let execute = Access(rawValue: 4)
    }

    public var address: UInt64
    public var length: UInt32
    public var access: Access

    public init(address: UInt64, length: UInt32, access: Access) {
        self.address = address
        self.length = length
        self.access = access
    }

    /// `0xADDRESS:LENGTH:MODE`, MODE being bpftrace's letters (`r`, `w`, `x`, `rw`).
    public var description: String {
        "0x\(String(address, radix: 16)):\(length):\(Self.letters(access))"
    }

    static func letters(_ access: Access) -> String {
        (access.contains(.read) ? "r" : "") + (access.contains(.write) ? "w" : "")
            + (access.contains(.execute) ? "x" : "")
    }

    static func access(letters: Substring) -> Access? {
        var access: Access = []
        for letter in letters {
            switch letter {
            case "r" where !access.contains(.read): access.insert(.read)
            case "w" where !access.contains(.write): access.insert(.write)
            case "x" where !access.contains(.execute): access.insert(.execute)
            default: return nil
            }
        }
        return access.isEmpty ? nil : access
    }

    func validate() throws(EBPFError) {
        guard [1, 2, 4, 8].contains(length), address % UInt64(length) == 0 else {
            throw EBPFError(
                .invalidArgument,
                "watchpoint \(self): a CPU watches 1, 2, 4 or 8 bytes at an address aligned to that length")
        }
        guard !access.isEmpty, access.rawValue & ~7 == 0,
            !access.contains(.execute) || (access == .execute && length == 8)
        else {
            throw EBPFError(
                .invalidArgument,
                "watchpoint \(self): watch reads and writes (rw), writes (w), or executions (x) alone, of the 8 bytes at an instruction's address"
            )
        }
    }
}
