import EBPFKernel
import EBPFProgram

/// A kernel function's parameter as a kprobe reads it, named and typed from the kernel's BTF.
struct KernelParameter: Sendable, Hashable {
    enum Value: Sendable, Hashable {
        case integer(size: Int, signed: Bool)
        /// A `char *`: the string it points to (in the kernel or the calling process).
        case string
        case pointer
        /// A `struct sock *` read one level down, at these offsets of this kernel's `struct sock`.
        case socket(SocketOffsets)
    }

    /// Where `struct sock` keeps a connection's addresses on this kernel (from BTF).
    struct SocketOffsets: Sendable, Hashable {
        var family: Int
        var sourceV4: Int
        var destinationV4: Int
        /// The local port, in host byte order (`skc_num`).
        var sourcePort: Int
        /// The remote port, in network byte order (`skc_dport`).
        var destinationPort: Int
        var sourceV6: Int
        var destinationV6: Int
    }

    let name: String
    /// The type as C writes it: `struct sock *`.
    let typeName: String
    let value: Value

    /// The first six parameters of `function` (those in registers), from BTF; nil when the
    /// kernel has no BTF or BTF no such function (inlined, or static and renamed).
    /// `dereferencing`: read a `struct sock *` parameter's family, addresses and ports.
    static func of(function: String, dereferencing: Bool) -> [KernelParameter]? {
        signature(of: function, dereferencing: dereferencing)?.parameters
    }

    /// `function`'s first six parameters, how many it has, and its return value (nil for
    /// `void`), from BTF.
    static func signature(
        of function: String, dereferencing: Bool
    ) -> (parameters: [KernelParameter], count: Int, returnValue: KernelParameter?)? {
        guard let btf = try? BTF.kernel(), let signature = btf.function(named: function) else { return nil }
        let parameters = signature.parameters.prefix(6).enumerated().map { index, parameter in
            let name = NameValidation.isIdentifier(parameter.name) ? parameter.name : "arg\(index)"
            return describe(parameter.type, named: name, in: btf, dereferencing: dereferencing)
        }
        let returnValue =
            signature.returnType == 0
            ? nil : describe(signature.returnType, named: "ret", in: btf, dereferencing: false)
        return (parameters, signature.parameters.count, returnValue)
    }

    /// A value of BTF type `type`, as a probe reads it.
    private static func describe(
        _ type: BTF.TypeID, named name: String, in btf: BTF, dereferencing: Bool
    ) -> KernelParameter {
        let typeName = btf.typeName(of: type)
        func parameter(_ value: Value) -> KernelParameter {
            KernelParameter(name: name, typeName: typeName, value: value)
        }
        switch btf.shape(of: type) {
        case .integer(let size, let signed) where [1, 2, 4, 8].contains(size),
            .enumeration(let size, let signed) where [1, 2, 4, 8].contains(size):
            return parameter(.integer(size: size, signed: signed))
        case .boolean:
            return parameter(.integer(size: 1, signed: false))
        case .character(let signed):
            return parameter(.integer(size: 1, signed: signed))
        case .pointer(let pointee):
            if case .character = btf.shape(of: pointee) { return parameter(.string) }
            if dereferencing, let socket = socketOffsets(btf, pointee: pointee) { return parameter(.socket(socket)) }
            return parameter(.pointer)
        default:
            return parameter(.integer(size: 8, signed: false))
        }
    }

    /// The offsets of a `struct sock`'s addresses, when `pointee` is `struct sock`.
    private static func socketOffsets(_ btf: BTF, pointee: BTF.TypeID) -> SocketOffsets? {
        guard let id = btf.compositeType(named: "sock"), btf.name(of: pointee) == "sock" || pointee == id else {
            return nil
        }
        func offset(_ member: String) -> Int? { btf.member(["__sk_common", member], of: id)?.byteOffset }
        guard let family = offset("skc_family"), let sourceV4 = offset("skc_rcv_saddr"),
            let destinationV4 = offset("skc_daddr"), let sourcePort = offset("skc_num"),
            let destinationPort = offset("skc_dport"), let sourceV6 = offset("skc_v6_rcv_saddr"),
            let destinationV6 = offset("skc_v6_daddr")
        else { return nil }
        return SocketOffsets(
            family: family, sourceV4: sourceV4, destinationV4: destinationV4, sourcePort: sourcePort,
            destinationPort: destinationPort, sourceV6: sourceV6, destinationV6: destinationV6)
    }
}
