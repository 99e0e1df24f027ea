import EBPFKernel

/// Checks that a Swift type can hold any bytes the kernel writes: integers, floating-point
/// numbers, SIMD vectors, and structs, tuples and `InlineArray`s of them.
///
/// A `Bool`, an enum or an `Optional` has bit patterns that are not values: a C `bool` field
/// holding 2, or an enum tag the Swift type does not have, loaded as that type is undefined
/// behaviour. Typed buffers and tables check their types here, once, when they are opened.
package enum PlainData {
    /// Throws ``EBPFError/Code/decodingFailed`` naming the first field of `type` that is not
    /// plain data, and what to declare instead.
    ///
    /// - Parameter role: What `type` is for, to start the message: "the value type of table 'counts'".
    package static func check<T: BitwiseCopyable>(_ type: T.Type, as role: String) throws(EBPFError) {
        let zero = withUnsafeTemporaryAllocation(
            byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment
        ) { buffer in
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            return buffer.load(as: T.self)
        }
        if let (path, fieldType) = firstField(notPlainIn: zero, path: "") {
            let field = path.isEmpty ? "\(T.self)" : "\(T.self)'s field \(path.dropFirst())"
            throw EBPFError(
                .decodingFailed,
                "\(role), \(field), is a \(fieldType): it cannot hold every byte pattern the kernel may write (a C bool holding 2, an enum value Swift does not know); declare it as an integer of the C field's size (UInt8 for a C bool) and convert it after reading"
            )
        }
    }

    private static func firstField(notPlainIn value: Any, path: String) -> (String, String)? {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional?, .enum?, .class?, .collection?, .dictionary?, .set?:
            return (path, String(describing: type(of: value)))
        default:
            break
        }
        if value is any FixedWidthInteger || value is any BinaryFloatingPoint || value is any SIMD { return nil }
        let typeName = String(reflecting: type(of: value))
        if typeName.hasPrefix("Swift.InlineArray<") {
            return isPlainInlineArray(typeName) ? nil : (path, String(describing: type(of: value)))
        }
        guard mirror.displayStyle == .struct || mirror.displayStyle == .tuple, !mirror.children.isEmpty else {
            return (path, String(describing: type(of: value)))  // Bool, and anything opaque
        }
        for (index, child) in mirror.children.enumerated() {
            // Tuple elements are labelled ".0", ".1": one dot before every path component.
            let label = child.label.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 } ?? "\(index)"
            if let found = firstField(notPlainIn: child.value, path: path + "." + label) {
                return found
            }
        }
        return nil
    }

    /// `InlineArray`'s elements are not visible to `Mirror`; its element type is read from
    /// its name: `Swift.InlineArray<4, Swift.UInt32>`, possibly nested.
    private static func isPlainInlineArray(_ name: String) -> Bool {
        guard name.hasPrefix("Swift.InlineArray<"), name.hasSuffix(">"),
            let comma = name.firstIndex(of: ",")
        else { return plainScalarNames.contains(name) }
        let element = name[name.index(after: comma)..<name.index(before: name.endIndex)]
            .trimmingPrefix(" ")
        return isPlainInlineArray(String(element))
    }

    private static let plainScalarNames: Set<String> = [
        "Swift.Int8", "Swift.Int16", "Swift.Int32", "Swift.Int64", "Swift.Int",
        "Swift.UInt8", "Swift.UInt16", "Swift.UInt32", "Swift.UInt64", "Swift.UInt",
        "Swift.Float", "Swift.Double",
    ]
}
