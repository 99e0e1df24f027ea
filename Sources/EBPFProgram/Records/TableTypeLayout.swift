import EBPFKernel

/// A table's key or value type as libbcc describes it (JSON), laid out for decoding.
///
/// Scalars (`"unsigned int"`) become one unnamed field; structs become their fields, nested
/// structs flattened with dotted names (`addr.port`) and libbcc's `__pad_N` padding hidden.
/// libbcc marks the structs whose padding it made explicit as `struct_packed`; others are
/// laid out by the C rules.
package struct TableTypeLayout: Sendable {
    package let layout: RecordLayout
    package let isScalar: Bool
    package let size: Int

    /// - Throws: ``EBPFError/Code/decodingFailed`` when the description cannot be laid out
    ///   or its size differs from what libbcc reports for the table.
    package static func make(description: String?, size: Int, table: String, what: String) throws(EBPFError)
        -> TableTypeLayout
    {
        func fail(_ why: String) -> EBPFError {
            EBPFError(
                .decodingFailed,
                "the \(what) type of table '\(table)' cannot be decoded by name (\(why)); use a typed view, e.g. table(\"\(table)\", key: UInt32.self, value: UInt64.self)"
            )
        }
        guard let description, !description.isEmpty else {
            return TableTypeLayout(
                layout: .interned(fields: [Self.bytesField(size)], size: size), isScalar: true, size: size)
        }
        guard let json = TypeDescription.parse(description) else { throw fail("unreadable description \(description)") }
        var fields: [FieldLayout] = []
        let shape: Shape
        do {
            shape = try Shape(json, prefix: "", into: &fields)
        } catch let error as ShapeError {
            throw fail(error.reason)
        } catch {
            throw fail("\(error)")
        }
        guard shape.size == size else {
            throw fail("its description adds up to \(shape.size) bytes but the table's \(what) is \(size)")
        }
        return TableTypeLayout(layout: .interned(fields: fields, size: size), isScalar: shape.isScalar, size: size)
    }

    private static func bytesField(_ size: Int) -> FieldLayout {
        FieldLayout(name: "", offset: 0, elementSize: size, kind: .bytes)
    }

    package struct ShapeError: Error {
        package let reason: String
    }

    /// A type's size and alignment; building one appends its fields at their offsets.
    private struct Shape {
        package var size: Int
        package var alignment: Int
        package var isScalar: Bool

        package init(_ json: TypeDescription, prefix: String, into fields: inout [FieldLayout], base: Int = 0) throws {
            switch json {
            case .name(let name):
                guard let type = CType(parsing: name) else { throw ShapeError(reason: "unknown type '\(name)'") }
                let count = type.count
                fields.append(
                    FieldLayout(
                        name: prefix, offset: base, elementSize: type.elementSize, count: count, kind: type.kind))
                self.init(size: type.elementSize * (count ?? 1), alignment: type.alignment, isScalar: prefix.isEmpty)
            case .list(let parts):
                guard parts.count >= 2, case .list(let members) = parts[1] else {
                    throw ShapeError(reason: "malformed struct description")
                }
                var kind = "struct"
                if parts.count > 2, case .name(let given) = parts[2] { kind = given }
                let packed = kind == "struct_packed"
                let union = kind == "union"
                var offset = 0
                var size = 0
                var alignment = 1
                for member in members {
                    guard case .list(let entry) = member, entry.count >= 2, case .name(let name) = entry[0] else {
                        throw ShapeError(reason: "malformed member")
                    }
                    // Names become dictionary keys and dotted paths: only what C allows.
                    guard name.isEmpty || NameValidation.isIdentifier(name) else {
                        throw ShapeError(reason: "member name \(NameValidation.quoted(name)) is not a C identifier")
                    }
                    let path = name.isEmpty ? prefix : (prefix.isEmpty ? name : prefix + "." + name)
                    let isPad = name.hasPrefix("__pad")
                    var memberFields: [FieldLayout] = []
                    var member: Shape
                    if entry.count == 3, case .number = entry[2] {
                        throw ShapeError(reason: "bit-field '\(name)'")
                    } else if entry.count == 3, case .name = entry[2] {
                        // An anonymous (or named) nested struct or union given inline.
                        member = try Shape(.list(entry), prefix: path, into: &memberFields)
                    } else {
                        member = try Shape(entry[1], prefix: path, into: &memberFields)
                        if entry.count == 3, case .list(let dimensions) = entry[2] {
                            let count = dimensions.reduce(1) { product, dimension in
                                if case .number(let n) = dimension { return product * max(0, n) }
                                return product
                            }
                            if memberFields.count == 1, memberFields[0].count == nil {
                                memberFields[0] = memberFields[0].repeated(count)
                            } else {
                                memberFields = [
                                    FieldLayout(
                                        name: path, offset: 0, elementSize: member.size, count: count, kind: .bytes)
                                ]
                            }
                            member.size *= count
                        }
                    }
                    let at = union ? 0 : (packed ? offset : SubmittedStructLayout.align(offset, to: member.alignment))
                    if !isPad {
                        fields += memberFields.map { $0.moved(by: base + at) }
                    }
                    offset = at + member.size
                    size = max(size, offset)
                    alignment = max(alignment, packed ? 1 : member.alignment)
                }
                self.init(
                    size: packed ? size : SubmittedStructLayout.align(size, to: alignment), alignment: alignment,
                    isScalar: false)
            case .number:
                throw ShapeError(reason: "a number where a type was expected")
            }
        }

        package init(size: Int, alignment: Int, isScalar: Bool) {
            self.size = size
            self.alignment = alignment
            self.isScalar = isScalar
        }
    }
}
