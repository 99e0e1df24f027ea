import EBPF

#if canImport(Glibc)
import Glibc
#endif

/// Turns a metric's key into its label's value, as ebpf_exporter's decoders do: chained in
/// the order given, each taking what the one before gave. A decoder that drops the value
/// (`regexp`, when nothing matches) drops the sample.
public enum LabelDecoder: Sendable, Hashable {
    /// A kernel address as its symbol (`tcp_v4_connect`), from /proc/kallsyms; an address
    /// outside it as `[unknown]`.
    case ksym
    /// A syscall number (x86-64) as its name (`openat`).
    case syscall
    /// A negative return value, as syscalls return errors (`-2`), as its error's name
    /// (`ENOENT`, from the C library's `strerrorname_np`, glibc 2.32); zero and positive
    /// values (descriptors, sizes) stay as they are.
    case errno
    /// A cgroup id as its path (`/system.slice/nginx.service`), or with `unit` as its
    /// systemd unit, falling back to the path.
    case cgroup(unit: Bool)
    /// An IPv4 address as the kernel stores it (network byte order in a `u32`) as
    /// `192.0.2.1`.
    case inetIP
    /// Each value as the map says; values it does not name stay as they are (ebpf_exporter
    /// writes `unknown:VALUE` for them).
    case staticMap([String: String])
    /// Keeps values in which one of the patterns finds a match (anchor with `^…$` for a
    /// whole value), as ebpf_exporter's; drops the sample otherwise.
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
            guard let number = Int32(value), number < 0, number > Int32.min else { return value }
            return ErrorNames.name(-number) ?? value
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
            return DecoderChain.matches(value, patterns.compactMap { try? Regex($0) }) ? value : nil
        }
    }
}

/// A metric's decoders, ready to run on every scrape: their regular expressions compiled
/// once.
final class DecoderChain: @unchecked Sendable {
    // @unchecked Sendable: set once in init and only read after; a Regex is a value.
    private let steps: [(decoder: LabelDecoder, regexes: [Regex<AnyRegexOutput>])]

    init(_ decoders: [LabelDecoder]) {
        steps = decoders.map { decoder in
            guard case .regexp(let patterns) = decoder else { return (decoder, []) }
            return (decoder, patterns.compactMap { try? Regex($0) })
        }
    }

    /// `value` through every decoder in order, or nil when one drops it.
    func decode(_ value: String, in context: LabelContext) -> String? {
        var value = value
        for step in steps {
            if case .regexp = step.decoder {
                guard Self.matches(value, step.regexes) else { return nil }
                continue
            }
            guard let next = step.decoder.decode(value, in: context) else { return nil }
            value = next
        }
        return value
    }

    /// Whether one of `regexes` finds a match in `value`.
    static func matches(_ value: String, _ regexes: [Regex<AnyRegexOutput>]) -> Bool {
        regexes.contains { (try? $0.firstMatch(in: value)) != nil }
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
