import Foundation

/// A parsed JSON document, with booleans and numbers told apart.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `data` as one strict RFC 8259 JSON document. Unlike JSONSerialization, a key
    /// repeated within one object is an error (`"k": 1, "k": 500` would silently mean 500), as
    /// are numbers beyond Double, nesting deeper than `limits.depth` and strings longer than
    /// `limits.stringLength` characters.
    public init(parsing data: Data, limits: JSONLimits = JSONLimits()) throws(JSONParseError) {
        var parser = JSONParser(bytes: [UInt8](data), limits: limits)
        self = try parser.document()
    }

    /// The JSON type's name as error messages use it: `a number`, `an object`, …
    var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// A short rendering of the value for error messages: `1.5`, `"knn"`, `[…]`.
    var excerpt: String {
        switch self {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number): return formatNumber(number)
        case .string(let text): return "\"\(text)\""
        case .array(let items): return items.isEmpty ? "[]" : "[…] (\(items.count) items)"
        case .object: return "{…}"
        }
    }
}

/// `3` for integral values, otherwise Swift's shortest round-trip form (`0.1`).
func formatNumber(_ number: Double) -> String {
    if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
    return String(number)
}
