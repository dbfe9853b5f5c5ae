/// Bounds on what a JSON document may hold, so a hostile file is refused quickly and in
/// little memory.
public struct JSONLimits: Sendable {
    /// Deepest nesting of arrays and objects.
    public var depth = 64
    /// Longest string (key or value), in characters.
    public var stringLength = 4096

    public init() {}
}

/// Why a JSON document was refused: where (1-based line and column, and the JSON path of the
/// value being read) and why.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var path: JSONPath
    public var reason: String
    /// True when the error is a key repeated within one object (`path` names the key).
    public var isDuplicateKey = false

    public var description: String { "line \(line), column \(column): \(reason)" }
}

/// A recursive-descent parser over UTF-8 bytes (RFC 8259, no extensions).
struct JSONParser {
    private let bytes: [UInt8]
    private let limits: JSONLimits
    private var offset = 0
    private var depth = 0

    init(bytes: [UInt8], limits: JSONLimits) {
        // A UTF-8 byte order mark is allowed before the document (RFC 8259 §8.1).
        self.bytes = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        self.limits = limits
    }

    mutating func document() throws(JSONParseError) -> JSONValue {
        let value = try self.value(at: .root)
        skipWhitespace()
        guard offset == bytes.count else { throw failure("unexpected text after the JSON document", at: .root) }
        return value
    }

    private func failure(_ reason: String, at path: JSONPath, offset position: Int? = nil) -> JSONParseError {
        let end = min(position ?? offset, bytes.count)
        var line = 1, lineStart = 0
        for i in 0..<end where bytes[i] == 0x0A {
            line += 1
            lineStart = i + 1
        }
        let column = String(decoding: bytes[lineStart..<end], as: UTF8.self).count + 1
        return JSONParseError(line: line, column: column, path: path, reason: reason)
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
    }

    private mutating func value(at path: JSONPath) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard offset < bytes.count else { throw failure("unexpected end of the document", at: path) }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object(at: path)
        case UInt8(ascii: "["): return try array(at: path)
        case UInt8(ascii: "\""): return .string(try string(at: path))
        case UInt8(ascii: "t"): try literal("true", at: path); return .bool(true)
        case UInt8(ascii: "f"): try literal("false", at: path); return .bool(false)
        case UInt8(ascii: "n"): try literal("null", at: path); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number(at: path))
        default:
            let character = String(decoding: bytes[offset...].prefix(4), as: UTF8.self).prefix(1)
            throw failure("unexpected character \"\(character)\"; expected a value", at: path)
        }
    }

    private mutating func literal(_ word: String, at path: JSONPath) throws(JSONParseError) {
        let expected = Array(word.utf8)
        guard bytes[offset...].starts(with: expected) else { throw failure("invalid literal; expected \(word)", at: path) }
        offset += expected.count
    }

    private mutating func enter(_ path: JSONPath) throws(JSONParseError) {
        depth += 1
        if depth > limits.depth { throw failure("nested deeper than \(limits.depth) levels", at: path) }
    }

    private mutating func object(at path: JSONPath) throws(JSONParseError) -> JSONValue {
        try enter(path)
        offset += 1
        var fields: [String: JSONValue] = [:]
        skipWhitespace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
            offset += 1
            depth -= 1
            return .object(fields)
        }
        while true {
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
                throw failure("expected a key in double quotes", at: path)
            }
            let keyStart = offset
            let key = try string(at: path)
            let keyPath = path.appending(key)
            guard fields[key] == nil else {
                var error = failure("duplicate key \"\(key)\"; each key may appear once per object", at: keyPath,
                                    offset: keyStart)
                error.isDuplicateKey = true
                throw error
            }
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else {
                throw failure("expected \":\" after the key \"\(key)\"", at: keyPath)
            }
            offset += 1
            fields[key] = try value(at: keyPath)
            skipWhitespace()
            guard offset < bytes.count else { throw failure("unexpected end of the document inside an object", at: path) }
            if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
            if bytes[offset] == UInt8(ascii: "}") { offset += 1; break }
            throw failure("expected \",\" or \"}\" after a value", at: keyPath)
        }
        depth -= 1
        return .object(fields)
    }

    private mutating func array(at path: JSONPath) throws(JSONParseError) -> JSONValue {
        try enter(path)
        offset += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
            offset += 1
            depth -= 1
            return .array(items)
        }
        while true {
            items.append(try value(at: path.appending(index: items.count)))
            skipWhitespace()
            guard offset < bytes.count else { throw failure("unexpected end of the document inside an array", at: path) }
            if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
            if bytes[offset] == UInt8(ascii: "]") { offset += 1; break }
            throw failure("expected \",\" or \"]\" after an array item", at: path.appending(index: items.count - 1))
        }
        depth -= 1
        return .array(items)
    }

    private mutating func number(at path: JSONPath) throws(JSONParseError) -> Double {
        let start = offset
        func digits() -> Int {
            let first = offset
            while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
            return offset - first
        }
        if bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        let integerStart = offset
        guard digits() > 0 else { throw failure("invalid number", at: path, offset: start) }
        if bytes[integerStart] == UInt8(ascii: "0"), offset - integerStart > 1 {
            throw failure("invalid number (leading zero)", at: path, offset: start)
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits() > 0 else { throw failure("invalid number (no digits after \".\")", at: path, offset: start) }
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard digits() > 0 else { throw failure("invalid number (no digits in the exponent)", at: path, offset: start) }
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        guard let number = Double(text), number.isFinite else {
            throw failure("the number \(text.prefix(40)) is beyond the range of a double", at: path, offset: start)
        }
        return number
    }

    private mutating func string(at path: JSONPath) throws(JSONParseError) -> String {
        let start = offset
        offset += 1
        var scalars = String.UnicodeScalarView()
        var count = 0
        var plainStart = offset
        func flushPlain() throws(JSONParseError) {
            guard plainStart < offset else { return }
            guard let text = String(validating: bytes[plainStart..<offset], as: UTF8.self) else {
                throw failure("invalid UTF-8 in a string", at: path, offset: plainStart)
            }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard offset < bytes.count else { throw failure("unterminated string", at: path, offset: start) }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                try flushPlain()
                offset += 1
                break
            }
            if byte < 0x20 { throw failure("control character in a string (escape it)", at: path) }
            if byte & 0xC0 != 0x80 {
                count += 1
                if count > limits.stringLength {
                    throw failure("a string longer than \(limits.stringLength) characters", at: path, offset: start)
                }
            }
            guard byte == UInt8(ascii: "\\") else { offset += 1; continue }
            try flushPlain()
            offset += 1
            guard offset < bytes.count else { throw failure("unterminated string", at: path, offset: start) }
            let escape = bytes[offset]
            offset += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hexQuad(at: path)
                if (0xD800..<0xDC00).contains(code) {
                    guard bytes[offset...].starts(with: Array("\\u".utf8)) else {
                        throw failure("unpaired UTF-16 surrogate in a \\u escape", at: path)
                    }
                    offset += 2
                    let low = try hexQuad(at: path)
                    guard (0xDC00..<0xE000).contains(low) else {
                        throw failure("unpaired UTF-16 surrogate in a \\u escape", at: path)
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else {
                    throw failure("unpaired UTF-16 surrogate in a \\u escape", at: path)
                }
                scalars.append(scalar)
            default:
                throw failure("invalid escape \"\\\(Unicode.Scalar(escape))\" in a string", at: path, offset: offset - 2)
            }
            plainStart = offset
        }
        return String(scalars)
    }

    /// The four hex digits of a `\u` escape.
    private mutating func hexQuad(at path: JSONPath) throws(JSONParseError) -> UInt32 {
        guard offset + 4 <= bytes.count,
              let code = UInt32(String(decoding: bytes[offset..<offset + 4], as: UTF8.self), radix: 16),
              bytes[offset..<offset + 4].allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "-") }) else {
            throw failure("a \\u escape needs four hex digits", at: path)
        }
        offset += 4
        return code
    }
}
