import Foundation

/// A parsed JSON document, with booleans and numbers told apart (JSONSerialization
/// returns both as `NSNumber`).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `data` as one JSON document (an object or array at the top).
    public init(parsing data: Data) throws {
        self.init(foundation: try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
    }

    private init(foundation value: Any) {
        switch value {
        case is NSNull:
            self = .null
        case let number as NSNumber:
            // A JSON `true`/`false` arrives as an NSNumber of Objective-C type `c` (char).
            if String(cString: number.objCType) == "c" {
                self = .bool(number.boolValue)
            } else {
                self = .number(number.doubleValue)
            }
        case let string as String:
            self = .string(string)
        case let array as [Any]:
            self = .array(array.map(JSONValue.init(foundation:)))
        case let object as [String: Any]:
            self = .object(object.mapValues(JSONValue.init(foundation:)))
        default:
            self = .string(String(describing: value))
        }
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
