/// A location inside a JSON document: `scorer.coreset_ratio[1]`.
public struct JSONPath: Hashable, Sendable, CustomStringConvertible {
    enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    private(set) var components: [Component] = []

    /// The document's top level.
    public static let root = JSONPath()

    func appending(_ key: String) -> JSONPath {
        var path = self
        path.components.append(.key(key))
        return path
    }

    func appending(index: Int) -> JSONPath {
        var path = self
        path.components.append(.index(index))
        return path
    }

    /// Dotted keys and bracketed indices; `(top level)` for the root.
    public var description: String {
        guard !components.isEmpty else { return "(top level)" }
        var text = ""
        for component in components {
            switch component {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }
}

/// Why an experiment spec was rejected: the file, the JSON path, what was given and what
/// is allowed — one error, one line.
public struct SpecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spec file as the user named it.
    public var file: String
    /// Where in the document; `.root` for problems with the whole file.
    public var path: JSONPath
    /// What is wrong and what is allowed.
    public var reason: String

    public init(file: String, path: JSONPath, reason: String) {
        self.file = file
        self.path = path
        self.reason = reason
    }

    public var description: String {
        path == .root ? "\(file): \(reason)" : "\(file): \(path): \(reason)"
    }
}
