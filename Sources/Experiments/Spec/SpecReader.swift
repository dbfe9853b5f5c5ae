/// The keys one JSON object of a spec may hold. Each shape mirrors the `$defs` entry of
/// `Experiments/schema.json` named `definition`; a test keeps the two in step.
public struct ObjectShape: Sendable {
    /// The `$defs` name in the JSON Schema.
    public var definition: String
    public var required: [String]
    public var optional: [String]

    public init(_ definition: String, required: [String], optional: [String] = []) {
        self.definition = definition
        self.required = required
        self.optional = optional
    }

    public var keys: [String] { required + optional }
}

/// An allowed interval of numbers, with the wording error messages use.
struct NumberRange {
    var lower: Double?
    var lowerInclusive = true
    var upper: Double?
    var upperInclusive = true

    static func closed(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, upper: upper)
    }
    /// (lower, upper]
    static func openClosed(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, lowerInclusive: false, upper: upper)
    }
    static func atLeast(_ lower: Double) -> NumberRange { NumberRange(lower: lower) }
    static func greaterThan(_ lower: Double) -> NumberRange {
        NumberRange(lower: lower, lowerInclusive: false)
    }

    func contains(_ x: Double) -> Bool {
        if let lower, lowerInclusive ? x < lower : x <= lower { return false }
        if let upper, upperInclusive ? x > upper : x >= upper { return false }
        return true
    }

    var description: String {
        switch (lower, upper) {
        case let (lower?, upper?):
            return "\(lowerInclusive ? "[" : "(")\(formatNumber(lower)), \(formatNumber(upper))\(upperInclusive ? "]" : ")")"
        case let (lower?, nil): return "\(lowerInclusive ? "≥" : ">") \(formatNumber(lower))"
        case let (nil, upper?): return "\(upperInclusive ? "≤" : "<") \(formatNumber(upper))"
        case (nil, nil): return "any number"
        }
    }
}

/// One value of a spec and where it sits; typed accessors throw a `SpecError` naming the
/// path, what was given and what is allowed.
struct ValueReader {
    let value: JSONValue
    let path: JSONPath
    let file: String

    func error(_ reason: String) -> SpecError {
        SpecError(file: file, path: path, reason: reason)
    }

    private func wrongType(_ expected: String) -> SpecError {
        error("expected \(expected), got \(value.typeDescription) \(value.excerpt)")
    }

    func string() throws -> String {
        guard case .string(let text) = value else { throw wrongType("a string") }
        return text
    }

    func nonEmptyString() throws -> String {
        let text = try string()
        guard !text.isEmpty else { throw error("expected a non-empty string, got \"\"") }
        return text
    }

    func bool() throws -> Bool {
        guard case .bool(let flag) = value else { throw wrongType("true or false") }
        return flag
    }

    func double(in range: NumberRange) throws -> Double {
        guard case .number(let number) = value else { throw wrongType("a number in \(range.description)") }
        guard range.contains(number) else {
            throw error("\(formatNumber(number)) is out of range; allowed: a number in \(range.description)")
        }
        return number
    }

    func int(in range: ClosedRange<Int>) throws -> Int {
        let allowed = range.upperBound == Int.max
            ? "an integer ≥ \(range.lowerBound)" : "an integer in [\(range.lowerBound), \(range.upperBound)]"
        guard case .number(let number) = value, number == number.rounded(), abs(number) < 9e15 else {
            throw wrongType(allowed)
        }
        guard range.contains(Int(number)) else {
            throw error("\(formatNumber(number)) is out of range; allowed: \(allowed)")
        }
        return Int(number)
    }

    /// One of `choices`, with a did-you-mean hint for near misses.
    func choice(_ choices: [String]) throws -> String {
        let listed = choices.map { "\"\($0)\"" }.joined(separator: ", ")
        guard case .string(let text) = value else { throw wrongType("one of \(listed)") }
        guard choices.contains(text) else {
            let hint = closestMatch(to: text, among: choices).map { "did you mean \"\($0)\"? " } ?? ""
            throw error("\"\(text)\" is not allowed; \(hint)allowed: \(listed)")
        }
        return text
    }

    func array(nonEmpty: Bool = false) throws -> [ValueReader] {
        guard case .array(let items) = value else { throw wrongType("an array") }
        if nonEmpty && items.isEmpty { throw error("expected a non-empty array, got []") }
        return items.enumerated().map { ValueReader(value: $1, path: path.appending(index: $0), file: file) }
    }

    func objectFields() throws -> [String: JSONValue] {
        guard case .object(let fields) = value else { throw wrongType("an object") }
        return fields
    }

    func object(_ shape: ObjectShape) throws -> ObjectReader {
        try ObjectReader(fields: try objectFields(), shape: shape, path: path, file: file)
    }

    /// A parameter that may be swept: one value, or a non-empty array of values that the
    /// runner expands into a grid. Each element is read (and its errors located) by `read`.
    func sweep<T: Hashable>(_ read: (ValueReader) throws -> T) throws -> Sweep<T> {
        guard case .array = value else { return Sweep(try read(self)) }
        let values = try array(nonEmpty: true).map(read)
        var seen = Set<T>()
        for (index, item) in values.enumerated() where !seen.insert(item).inserted {
            throw ValueReader(value: value, path: path.appending(index: index), file: file)
                .error("the value is listed twice in this sweep")
        }
        return Sweep(values: values)
    }
}

/// A JSON object of a spec whose keys were checked against an `ObjectShape`: no
/// unknown key (with a did-you-mean hint), every required key present.
struct ObjectReader {
    let fields: [String: JSONValue]
    let path: JSONPath
    let file: String

    init(fields: [String: JSONValue], shape: ObjectShape, path: JSONPath, file: String) throws {
        self.fields = fields
        self.path = path
        self.file = file
        let allowed = shape.keys
        for key in fields.keys.sorted() where !allowed.contains(key) {
            let hint = closestMatch(to: key, among: allowed).map { "did you mean \"\($0)\"? " } ?? ""
            throw SpecError(file: file, path: path.appending(key),
                            reason: "unknown key; \(hint)allowed keys here: \(allowed.joined(separator: ", "))")
        }
        for key in shape.required where fields[key] == nil {
            throw SpecError(file: file, path: path,
                            reason: "missing required key \"\(key)\" (required here: \(shape.required.joined(separator: ", ")))")
        }
    }

    /// The value under `key`, or nil when absent (`null` counts as absent).
    subscript(_ key: String) -> ValueReader? {
        guard let value = fields[key], value != .null else { return nil }
        return ValueReader(value: value, path: path.appending(key), file: file)
    }

    /// The value under a key the shape declares required.
    func required(_ key: String) throws -> ValueReader {
        guard let reader = self[key] else {
            throw SpecError(file: file, path: path.appending(key), reason: "expected a value, got null")
        }
        return reader
    }

    func error(_ reason: String) -> SpecError {
        SpecError(file: file, path: path, reason: reason)
    }
}

/// The allowed word nearest to `word`, when it is a plausible typo: the same letters up to
/// case, `_` and `-` (`coresetRatio` → `coreset_ratio`), or within a small edit distance.
func closestMatch(to word: String, among candidates: [String]) -> String? {
    func folded(_ text: String) -> String { text.lowercased().filter { $0 != "_" && $0 != "-" } }
    if let same = candidates.first(where: { folded($0) == folded(word) }) { return same }
    let limit = max(1, min(3, word.count / 3))
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let distance = editDistance(word.lowercased(), candidate.lowercased())
        if distance <= limit, distance < best?.distance ?? Int.max { best = (candidate, distance) }
    }
    return best?.candidate
}

/// Levenshtein distance with adjacent transpositions counted as one edit
/// (optimal string alignment): `ratoi` → `ratio` is 1.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous2 = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            let deletion = previous[j] + 1, insertion = current[j - 1] + 1
            current[j] = min(deletion, insertion, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], previous2[j - 2] + 1)
            }
        }
        (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[b.count]
}
