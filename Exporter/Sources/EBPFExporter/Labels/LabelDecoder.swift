import EBPF

#if canImport(Glibc)
import Glibc
#endif

/// Turns a metric's key into its label's value, as ebpf_exporter's decoders do: chained in
/// the order given, each taking what the one before gave. A decoder that drops the value
/// (`regexp`, when nothing matches) drops the sample.
public enum LabelDecoder: Sendable, Hashable {
    /// A kernel address as its symbol (`tcp_v4_connect`), from /proc/kallsyms.
    case ksym
    /// A syscall number (x86-64) as its name (`openat`).
    case syscall
    /// An error number, negative as syscalls return it or positive, as its name (`ENOENT`);
    /// zero and positive returns that are not errors stay as they are.
    case errno
    /// A cgroup id as its path (`/system.slice/nginx.service`), or with `unit` as its
    /// systemd unit, falling back to the path.
    case cgroup(unit: Bool)
    /// An IPv4 address as the kernel stores it (network byte order in a `u32`) as
    /// `192.0.2.1`.
    case inetIP
    /// Each value as the map says; values it does not name stay as they are.
    case staticMap([String: String])
    /// Keeps values that one of the patterns matches whole; drops the sample otherwise.
    case regexp([String])

    /// The names the configuration uses.
    static let names = ["ksym", "syscall", "errno", "cgroup", "cgroup_unit", "inet_ip", "static_map", "regexp"]
}

/// What the decoders need beyond the value: the kernel's symbols and the cgroup hierarchy.
struct LabelContext: Sendable {
    let symbols: SymbolResolver
    let cgroups: CgroupResolver
}

extension LabelDecoder {
    /// `value` decoded, or nil when the sample is dropped.
    func decode(_ value: String, in context: LabelContext) -> String? {
        switch self {
        case .ksym:
            guard let address = Self.unsigned(value) else { return value }
            return context.symbols.ksym(address)
        case .syscall:
            guard let number = Int(value) else { return value }
            return SyscallNames.name(number: number) ?? value
        case .errno:
            guard let number = Int32(value), number != 0 else { return value }
            return ErrorNames.name(number == Int32.min ? number : abs(number)) ?? value
        case .cgroup(let unit):
            guard let id = Self.unsigned(value), let cgroup = context.cgroups.cgroup(id: id) else { return value }
            return unit ? cgroup.name.unit ?? cgroup.path : cgroup.path
        case .inetIP:
            guard let address = Self.unsigned(value).flatMap(UInt32.init(exactly:)) else { return value }
            // Network byte order: the first octet is the lowest byte on a little-endian CPU.
            let octets = withUnsafeBytes(of: address.littleEndian) { Array($0) }
            return octets.map(String.init).joined(separator: ".")
        case .staticMap(let map):
            return map[value] ?? value
        case .regexp(let patterns):
            for pattern in patterns {
                if let regex = try? Regex(pattern), (try? regex.wholeMatch(in: value)) != nil { return value }
            }
            return nil
        }
    }
}

extension LabelDecoder {
    /// A key's value as an unsigned integer: decimal, or hexadecimal after `0x` (pointers).
    static func unsigned(_ text: String) -> UInt64? {
        text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    }
}

/// Error numbers' names (`ENOENT`), from the C library (`strerrorname_np`, glibc 2.32),
/// looked up when first asked.
enum ErrorNames {
    private typealias Lookup = @convention(c) (Int32) -> UnsafePointer<CChar>?
    private static let lookup: Lookup? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "strerrorname_np") else { return nil }
        return unsafeBitCast(symbol, to: Lookup.self)
    }()

    static func name(_ number: Int32) -> String? {
        guard let lookup, let name = lookup(number) else { return nil }
        return String(cString: name)
    }
}
