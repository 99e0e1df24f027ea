/// What a generated program reads behind an argument, beyond the argument's own value:
/// choices the kernel's description of the event cannot make.
public struct ArgumentReading: Sendable, Hashable {
    /// Read each `struct sock *` parameter of a kernel function one level down, at the
    /// offsets BTF gives for this kernel: `sk_family` and the socket's addresses as
    /// `sk_source` and `sk_destination` (`127.0.0.1:8080`), what bcc's `tcpconnect` reads
    /// from `tcp_v4_connect`. For kprobes, fentry and fexit.
    public var socketAddresses: Bool
    /// The arguments of a USDT probe or a uprobe, numbered from 1 (`arg1`, as in
    /// `bpf_usdt_readarg`), that point to strings: they arrive as the strings (bpftrace's
    /// `str(arg1)`). Each applies to the probes that have the argument; a USDT probe's must
    /// be 64 bits wide.
    public var strings: Set<Int>

    public init(socketAddresses: Bool = false, strings: Set<Int> = []) {
        self.socketAddresses = socketAddresses
        self.strings = strings
    }

    /// Each `struct sock *` parameter read one level down: `ProbeOptions(arguments: .socketAddresses)`.
    public static let socketAddresses = ArgumentReading(socketAddresses: true)

    @available(*, deprecated, renamed: "strings", message: "strings applies to uprobes' arguments too")
    public var usdtStrings: Set<Int> {
        get { strings }
        set { strings = newValue }
    }

    @available(*, deprecated, renamed: "init(socketAddresses:strings:)")
    public init(socketAddresses: Bool = false, usdtStrings: Set<Int>) {
        self.init(socketAddresses: socketAddresses, strings: usdtStrings)
    }

    @available(*, deprecated, renamed: "strings(_:)")
    public static func usdtStrings(_ numbers: Set<Int>) -> ArgumentReading { ArgumentReading(strings: numbers) }

    /// The arguments `numbers` read as strings: `ProbeOptions(arguments: .strings([1]))`.
    public static func strings(_ numbers: Set<Int>) -> ArgumentReading { ArgumentReading(strings: numbers) }
}
