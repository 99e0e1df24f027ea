import FoundationEssentials

/// libbcc's JSON description of a table's key or value type, decoded with
/// FoundationEssentials' `JSONDecoder`: a type name (`"unsigned int"`), or an array that
/// describes a struct or union (`["key_t", [["pid","unsigned int"], ["comm","char",[16]]],
/// "struct_packed"]`), whose members are arrays of a name, a type and dimensions or a
/// bit-field width.
package enum TypeDescription: Decodable, Equatable {
    case name(String)
    case number(Int)
    case list([TypeDescription])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let name = try? container.decode(String.self) {
            self = .name(name)
        } else if let number = try? container.decode(Int.self) {
            self = .number(number)
        } else {
            self = .list(try container.decode([TypeDescription].self))
        }
    }

    /// Parses `text`; nil when it is not such JSON.
    package static func parse(_ text: String) -> TypeDescription? {
        try? JSONDecoder().decode(TypeDescription.self, from: Data(text.utf8))
    }
}
