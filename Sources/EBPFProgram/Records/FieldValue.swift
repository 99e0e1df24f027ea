/// One decoded field of a record: a number, a string, a pointer, raw bytes or an array.
///
/// Produced by every decoder in the library (perf and ring buffer records, generated probe
/// events, table keys and values), so one type serves all of them.
public enum FieldValue: Sendable, Hashable, CustomStringConvertible {
    /// A signed integer (`int`, `s64`, `pid_t`, an `enum`).
    case signed(Int64)
    /// An unsigned integer (`u32`, `unsigned long`, `size_t`).
    case unsigned(UInt64)
    /// A `bool` / `_Bool`.
    case boolean(Bool)
    /// A `float` or `double`.
    case floatingPoint(Double)
    /// A `char` array, read up to its first NUL.
    case string(String)
    /// A pointer's value: an address in the traced process or the kernel.
    case pointer(UInt64)
    /// Bytes with no better meaning (`u8[6]`, `__int128`).
    case bytes([UInt8])
    /// An array of non-character elements, in order.
    case array([FieldValue])
    /// A socket address copied from the traced process. (Indirect: boxed, it keeps every
    /// other value small enough to be returned in registers.)
    indirect case socketAddress(SocketAddress)

    /// The value as an `Int`: integers that fit, booleans as 0/1, pointers as their bit
    /// pattern; nil for strings, bytes, arrays and unsigned values above `Int.max`.
    public var intValue: Int? {
        switch self {
        case .signed(let value): return Int(exactly: value)
        case .unsigned(let value): return Int(exactly: value)
        case .boolean(let value): return value ? 1 : 0
        case .pointer(let value): return Int(bitPattern: UInt(value))
        case .floatingPoint, .string, .bytes, .array, .socketAddress: return nil
        }
    }

    /// The value as a `UInt64`: unsigned integers, non-negative signed ones and pointers.
    public var uint64Value: UInt64? {
        switch self {
        case .unsigned(let value), .pointer(let value): return value
        case .signed(let value): return UInt64(exactly: value)
        case .boolean(let value): return value ? 1 : 0
        case .floatingPoint, .string, .bytes, .array, .socketAddress: return nil
        }
    }

    /// The socket address of a `struct sockaddr *` argument a probe copied; nil otherwise.
    public var socketAddress: SocketAddress? {
        if case .socketAddress(let address) = self { return address }
        return nil
    }

    /// The text of a `char` array (or another field decoded as a string); nil otherwise.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The strings of a string array field (`argv`); nil for any other field.
    public var stringsValue: [String]? {
        guard case .array(let values) = self else { return nil }
        let strings = values.compactMap(\.stringValue)
        return strings.count == values.count ? strings : nil
    }

    /// The elements of an array field, or the bytes of a byte field as `.unsigned` values.
    public var arrayValue: [FieldValue]? {
        switch self {
        case .array(let values): return values
        case .bytes(let bytes): return bytes.map { .unsigned(UInt64($0)) }
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .signed(let value): return String(value)
        case .unsigned(let value): return String(value)
        case .boolean(let value): return String(value)
        case .floatingPoint(let value): return String(value)
        case .string(let value): return value
        case .pointer(let value): return "0x" + String(value, radix: 16)
        case .bytes(let bytes):
            return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        case .array(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .socketAddress(let address): return address.description
        }
    }
}
