/// How XDP runs on an interface (``AttachPoint/xdp(_:mode:)``).
public enum XDPMode: String, Hashable, Sendable, CaseIterable {
    /// The driver's own XDP where it has it, else generic (no mode flag).
    case automatic = "auto"
    /// In the stack, after the packet's `sk_buff` is built: every interface has it
    /// (`XDP_FLAGS_SKB_MODE`).
    case generic
    /// In the driver, before any allocation; refused by a driver without XDP
    /// (`XDP_FLAGS_DRV_MODE`).
    case driver
    /// On the network card itself, for cards that run BPF (`XDP_FLAGS_HW_MODE`): refused
    /// with ``EBPFError/Code/notSupported``, since the program would have to be loaded for
    /// the card.
    case offload

    /// The `XDP_FLAGS_*` mode flag.
    var flags: UInt32 {
        switch self {
        case .automatic: return 0
        case .generic: return 1 << 1
        case .driver: return 1 << 2
        case .offload: return 1 << 3
        }
    }
}
