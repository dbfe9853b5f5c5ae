import Foundation

/// A condition on a sample's metadata columns, as a spec writes it:
///
///     {"column": "depth_m", "op": "<", "value": 800}
///     {"column": "label", "op": "in", "value": ["PASS", "OK"]}
///     {"all": [p, q]}    {"any": [p, q]}
///
/// Comparisons are typed. A number operand needs a number in the column (CSV cells that
/// read as decimal numbers are numbers); anything else there is an error naming the
/// column and the row. A string operand compares with `==`, `!=`, `in` against the cell's
/// text (numbers without a trailing `.0`: `800`), and orders (`<` …) only strings,
/// lexicographically by Unicode scalars. A bool operand allows `==`, `!=`, `in`.
/// Rows where a referenced column is missing or empty never reach a predicate: the
/// manifest loader excludes them first, counted by column.
public indirect enum Predicate: Codable, Equatable, Sendable {
    case compare(column: String, op: Comparison, operands: [MetadataValue])
    case all([Predicate])
    case any([Predicate])

    public enum Comparison: String, Codable, CaseIterable, Sendable {
        case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case equal = "==", notEqual = "!=", isIn = "in"
    }

    /// `column op value`; for `.isIn` use `operands` with every allowed value.
    public static func compare(_ column: String, _ op: Comparison, _ value: MetadataValue) -> Predicate {
        .compare(column: column, op: op, operands: [value])
    }

    /// Columns the predicate reads, in order of first appearance.
    public var columns: [String] {
        switch self {
        case .compare(let column, _, _): return [column]
        case .all(let predicates), .any(let predicates):
            var seen = Set<String>()
            return predicates.flatMap(\.columns).filter { seen.insert($0).inserted }
        }
    }

    /// Whether `row` satisfies the predicate; every referenced column must be present.
    /// `location` (e.g. `manifest.csv line 7`) names the row in errors.
    func evaluate(_ row: [String: MetadataValue], file: URL, location: String) throws -> Bool {
        switch self {
        case .all(let predicates):
            for predicate in predicates where !(try predicate.evaluate(row, file: file, location: location)) { return false }
            return true
        case .any(let predicates):
            for predicate in predicates where try predicate.evaluate(row, file: file, location: location) { return true }
            return false
        case .compare(let column, let op, let operands):
            guard let value = row[column] else { preconditionFailure("missing column \(column) reached a predicate") }
            func fail(_ reason: String) -> DatasetError {
                .malformed(file, "\(location), column \(column): \(reason)")
            }
            switch op {
            case .equal, .notEqual, .isIn:
                let match = try operands.contains { operand in
                    switch (operand, value) {
                    case (.number(let a), .number(let b)): return a == b
                    case (.number, _): throw fail("\"\(value)\" is not a number (compared with \(operand))")
                    default: return operand.description == value.description
                    }
                }
                return op == .notEqual ? !match : match
            case .less, .lessOrEqual, .greater, .greaterOrEqual:
                let ordering: Int
                switch (operands[0], value) {
                case (.number(let a), .number(let b)): ordering = b < a ? -1 : (b > a ? 1 : 0)
                case (.number(let a), _): throw fail("\"\(value)\" is not a number (compared with \(MetadataValue.number(a)))")
                case (.string(let a), .string(let b)):
                    ordering = Array(b.unicodeScalars.map(\.value)).lexicographicallyPrecedes(a.unicodeScalars.map(\.value)) ? -1 : (a == b ? 0 : 1)
                case (.string(let a), _): throw fail("\(value) is not a string (ordered against \"\(a)\")")
                case (.bool, _): throw fail("\(op.rawValue) does not order booleans")
                }
                switch op {
                case .less: return ordering < 0
                case .lessOrEqual: return ordering <= 0
                case .greater: return ordering > 0
                default: return ordering >= 0
                }
            }
        }
    }

    private enum CodingKeys: String, CodingKey { case column, op, value, all, any }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let keys = Set(try decoder.container(keyedBy: AnyCodingKey.self).allKeys.map(\.stringValue))
        if keys == ["all"] { self = .all(try c.decode([Predicate].self, forKey: .all)); return }
        if keys == ["any"] { self = .any(try c.decode([Predicate].self, forKey: .any)); return }
        if keys.contains("all") || keys.contains("any") {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: decoder.codingPath,
                debugDescription: "a predicate is {\"all\": […]}, {\"any\": […]} or {\"column\", \"op\", \"value\"}, got keys \(keys.sorted())"))
        }
        try rejectUnknownKeys(in: decoder, allowed: ["column", "op", "value"])
        let column = try c.decode(String.self, forKey: .column)
        let op = try c.decode(Comparison.self, forKey: .op)
        if op == .isIn {
            let operands = try c.decode([MetadataValue].self, forKey: .value)
            guard !operands.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: .value, in: c, debugDescription: "\"in\" needs a non-empty list")
            }
            self = .compare(column: column, op: op, operands: operands)
        } else {
            let operand = try c.decode(MetadataValue.self, forKey: .value)
            if case .bool = operand, op != .equal, op != .notEqual {
                throw DecodingError.dataCorruptedError(forKey: .op, in: c, debugDescription: "\(op.rawValue) does not order booleans")
            }
            self = .compare(column: column, op: op, operands: [operand])
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .all(let predicates): try c.encode(predicates, forKey: .all)
        case .any(let predicates): try c.encode(predicates, forKey: .any)
        case .compare(let column, let op, let operands):
            try c.encode(column, forKey: .column)
            try c.encode(op, forKey: .op)
            if op == .isIn { try c.encode(operands, forKey: .value) } else { try c.encode(operands[0], forKey: .value) }
        }
    }
}

extension Predicate: CustomStringConvertible {
    /// The predicate as one line: `sharpness > 50`, `site in [A, B]`, `(p and q)`, `(p or q)`.
    public var description: String {
        switch self {
        case .compare(let column, let op, let operands):
            let value = op == .isIn ? "[" + operands.map(\.description).joined(separator: ", ") + "]" : operands[0].description
            return "\(column) \(op.rawValue) \(value)"
        case .all(let predicates): return "(" + predicates.map(\.description).joined(separator: " and ") + ")"
        case .any(let predicates): return "(" + predicates.map(\.description).joined(separator: " or ") + ")"
        }
    }
}

extension MetadataValue: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let flag = try? c.decode(Bool.self) { self = .bool(flag); return }
        if let number = try? c.decode(Double.self) { self = .number(number); return }
        if let text = try? c.decode(String.self) { self = .string(text); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a string, number or boolean")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let text): try c.encode(text)
        case .number(let number): try c.encode(number)
        case .bool(let flag): try c.encode(flag)
        }
    }
}
