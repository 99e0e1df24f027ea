/// What a generated program reads behind an argument, beyond the argument's own value:
/// choices the kernel's description of the event cannot make.
public struct ArgumentReading: Sendable, Hashable {
    /// Read each `struct sock *` parameter of a kernel function one level down, at the
    /// offsets BTF gives for this kernel: `sk_family` and the socket's addresses as
    /// `sk_source` and `sk_destination` (`127.0.0.1:8080`), what bcc's `tcpconnect` reads
    /// from `tcp_v4_connect`. For kprobes, fentry and fexit.
    public var socketAddresses: Bool
    /// The arguments of a USDT probe, numbered from 1 as in `bpf_usdt_readarg`, that point
    /// to strings: they arrive as the strings (bpftrace's `str(arg1)`). Each must be a
    /// 64-bit argument of the probe.
    public var usdtStrings: Set<Int>

    public init(socketAddresses: Bool = false, usdtStrings: Set<Int> = []) {
        self.socketAddresses = socketAddresses
        self.usdtStrings = usdtStrings
    }

    /// Each `struct sock *` parameter read one level down: `ProbeOptions(arguments: .socketAddresses)`.
    public static let socketAddresses = ArgumentReading(socketAddresses: true)

    /// The USDT arguments `numbers` read as strings: `ProbeOptions(arguments: .usdtStrings([1]))`.
    public static func usdtStrings(_ numbers: Set<Int>) -> ArgumentReading { ArgumentReading(usdtStrings: numbers) }
}
