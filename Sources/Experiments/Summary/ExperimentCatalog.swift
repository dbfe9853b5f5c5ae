import Foundation

/// The spec files under `Experiments/` (and its subfolders, e.g. `Experiments/paper/`),
/// found by experiment name.
public struct ExperimentCatalog: Sendable {
    /// Experiment name → spec file, for every `*.json` except `schema.json`.
    public private(set) var files: [String: URL] = [:]

    public init(directory: URL) throws {
        let root = directory.standardizedFileURL
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw RegressionError("\(root.path): cannot list the folder")
        }
        for case let url as URL in enumerator
        where url.pathExtension == "json" && url.lastPathComponent != "schema.json" {
            let name = url.deletingPathExtension().lastPathComponent
            if let other = files[name] {
                throw RegressionError("two specs are named \(name): \(other.path) and \(url.path)")
            }
            files[name] = url
        }
    }

    /// Names, top-level specs first, then each subfolder's, by name within a folder.
    public var names: [String] {
        files.keys.sorted { lhs, rhs in
            let a = files[lhs]!.deletingLastPathComponent().pathComponents
            let b = files[rhs]!.deletingLastPathComponent().pathComponents
            if a != b { return a.count != b.count ? a.count < b.count : a.lexicographicallyPrecedes(b) }
            return lhs < rhs
        }
    }

    /// The spec file of experiment `name`, or an error listing near names.
    public func file(named name: String) throws -> URL {
        if let url = files[name] { return url }
        let hint = closestMatch(to: name, among: Array(files.keys)).map { " (did you mean \($0)?)" } ?? ""
        throw RegressionError("no spec named \(name) under Experiments/\(hint)")
    }

    /// Reads the spec of `name`. With `placeholdersForUnsetVariables`, an unset `$VAR` in
    /// a path reads as the literal text `$VAR` (for describing specs whose data is
    /// elsewhere, never for running them).
    public func spec(named name: String, placeholdersForUnsetVariables: Bool = false) throws -> ExperimentSpec {
        let url = try file(named: name)
        var environment = ProcessInfo.processInfo.environment
        if placeholdersForUnsetVariables, let text = try? String(contentsOf: url, encoding: .utf8) {
            for variable in environmentReferences(in: text) where environment[variable] == nil {
                environment[variable] = "$" + variable
            }
        }
        return try ExperimentSpec(contentsOf: url, file: relativePath(url), environment: environment)
    }

    private func relativePath(_ url: URL) -> String {
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return url.path.hasPrefix(cwd) ? String(url.path.dropFirst(cwd.count)) : url.path
    }
}

/// Names of the `$NAME` and `${NAME}` references in `text`.
private func environmentReferences(in text: String) -> Set<String> {
    var names = Set<String>()
    var rest = Substring(text)
    while let dollar = rest.firstIndex(of: "$") {
        rest = rest[rest.index(after: dollar)...]
        let body = rest.first == "{" ? rest.dropFirst() : rest
        let name = body.prefix { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
        if let first = name.first, !first.isNumber { names.insert(String(name)) }
    }
    return names
}
