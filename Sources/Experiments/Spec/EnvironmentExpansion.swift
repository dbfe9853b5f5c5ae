/// Why a `$VAR` reference could not be expanded.
struct EnvironmentExpansionError: Error, Equatable {
    var reason: String
}

/// Replaces `$NAME` and `${NAME}` in `text` by the variables' values; `$$` writes one `$`.
/// A name is a letter or `_` followed by letters, digits or `_`. An unset variable, an
/// unclosed `${`, or a `$` followed by anything else is an error naming it.
func expandEnvironment(_ text: String, _ environment: [String: String]) throws -> String {
    func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
    func isNameBody(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }
    func lookUp(_ name: String) throws -> String {
        guard let value = environment[name] else {
            throw EnvironmentExpansionError(reason: "environment variable \(name) is not set (in \"\(text)\")")
        }
        return value
    }

    var result = ""
    var rest = Substring(text)
    while let dollar = rest.firstIndex(of: "$") {
        result += rest[..<dollar]
        rest = rest[rest.index(after: dollar)...]
        guard let next = rest.first else {
            throw EnvironmentExpansionError(reason: "\"$\" at the end of \"\(text)\"; write \"$$\" for a literal \"$\"")
        }
        if next == "$" {
            result += "$"
            rest = rest.dropFirst()
        } else if next == "{" {
            guard let close = rest.firstIndex(of: "}") else {
                throw EnvironmentExpansionError(reason: "unclosed \"${\" in \"\(text)\"")
            }
            let name = String(rest[rest.index(after: rest.startIndex)..<close])
            guard let first = name.first, isNameStart(first), name.allSatisfy(isNameBody) else {
                throw EnvironmentExpansionError(reason: "\"${\(name)}\" is not a variable name in \"\(text)\"")
            }
            result += try lookUp(name)
            rest = rest[rest.index(after: close)...]
        } else if isNameStart(next) {
            let name = String(rest.prefix(while: isNameBody))
            result += try lookUp(name)
            rest = rest.dropFirst(name.count)
        } else {
            throw EnvironmentExpansionError(
                reason: "\"$\" must start a variable ($NAME or ${NAME}) in \"\(text)\"; write \"$$\" for a literal \"$\"")
        }
    }
    return result + rest
}
