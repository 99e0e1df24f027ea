/// Which of an interface's packets a tc classifier sees (``AttachPoint/trafficControl(_:_:)``).
public enum TrafficDirection: String, Hashable, Sendable, CaseIterable {
    /// Packets the interface receives, before the stack routes them.
    case ingress
    /// Packets the stack sends out through the interface.
    case egress
}
