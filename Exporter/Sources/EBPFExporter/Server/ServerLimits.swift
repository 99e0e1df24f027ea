/// What one client can hold of the exporter, whatever it does: the bounds that keep its
/// descriptors and memory fixed under many connections, slow clients and oversized requests.
public struct ServerLimits: Sendable {
    /// Connections served at once. Further ones wait in the kernel's listen backlog (and are
    /// refused when it is full) until one closes; each costs a descriptor.
    public var maximumConnections: Int
    /// A connection is closed when no complete request arrives on it for this long: an idle
    /// keep-alive connection, a client that never speaks, or one that sends its request a
    /// byte at a time.
    public var idleTimeout: Duration
    /// The largest request head (the request line and headers) read; a larger one is
    /// refused. A request with a body is refused too: `/metrics` takes none.
    public var maximumHeadBytes: Int

    /// 512 connections, 30 s, 16 KiB: room for a fleet's Prometheus servers and their
    /// reconnections, and a bound of about 512 descriptors and a few MiB of buffers.
    public init(maximumConnections: Int = 512, idleTimeout: Duration = .seconds(30), maximumHeadBytes: Int = 16 * 1024)
    {
        self.maximumConnections = maximumConnections
        self.idleTimeout = idleTimeout
        self.maximumHeadBytes = maximumHeadBytes
    }
}
