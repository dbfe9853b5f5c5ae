import Foundation

/// Images to score that have no labels (`trawl score`): image files, folders searched
/// recursively, or the rows of a manifest (CSV or FathomNet JSON, as the `manifest` dataset
/// reads them). Every sample is in the test split with the placeholder label
/// `normal/unlabeled`, which nothing downstream reads as ground truth.
public enum UnlabeledImages {
    /// The label every unlabeled sample carries.
    public static let label = Label(kind: .normal, name: "unlabeled")

    /// PNG/JPEG files and every PNG/JPEG under the given folders (hidden entries skipped).
    /// A file's id is its path as given; an image found in a folder has the path relative to
    /// that folder. Other files inside folders are excluded and counted; an id found twice
    /// is an error naming both paths.
    public static func files(_ inputs: [URL]) throws -> Dataset {
        var tally = ExclusionTally()
        var samples = [Sample]()
        var seen = [String: String]()
        func add(_ id: String, _ url: URL) throws {
            if let earlier = seen.updateValue(url.path, forKey: id) {
                throw DatasetError.invalidConfiguration("image id \(id) names two files: \(earlier) and \(url.path)")
            }
            samples.append(Sample(id: id, image: .file(url), label: label, split: .test))
        }
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input.path, isDirectory: &isDirectory) else {
                throw DatasetError.missing(input, "image or folder")
            }
            guard isDirectory.boolValue else {
                guard imageExtensions.contains(input.pathExtension.lowercased()) else {
                    throw DatasetError.malformed(input, "not a PNG or JPEG file")
                }
                try add(input.relativePath, input)
                continue
            }
            for relative in try filesBelow(input) {
                guard imageExtensions.contains((relative as NSString).pathExtension.lowercased()) else {
                    tally.add("not a PNG/JPEG file")
                    continue
                }
                try add(relative, input.appendingPathComponent(relative))
            }
        }
        return Dataset(samples: samples.sorted { $0.id < $1.id }, exclusions: tally.exclusions)
    }

    /// The rows of a manifest whose image file exists; ids are the image column's paths
    /// (relative to the manifest's folder), metadata every column. Rows without an image
    /// path or file are excluded and counted.
    public static func manifest(_ file: URL, format: ManifestConfiguration.Format? = nil,
                                imageColumn: String = "path") throws -> Dataset {
        try requireFile(file, "manifest")
        let folder = file.deletingLastPathComponent()
        let rows = (format ?? (file.pathExtension.lowercased() == "json" ? .fathomnet : .csv)) == .csv
            ? try ManifestConfiguration.csvRows(file) : try ManifestConfiguration.fathomNetRows(file)
        var tally = ExclusionTally()
        var samples = [Sample]()
        var firstLocation = [String: String]()
        for (location, row) in rows {
            guard let path = row[imageColumn] else { tally.add("missing \(imageColumn)"); continue }
            let id = path.description
            let image = URL(fileURLWithPath: id, relativeTo: folder).standardizedFileURL
            guard FileManager.default.fileExists(atPath: image.path) else { tally.add("image file not found"); continue }
            if let earlier = firstLocation.updateValue(location, forKey: id) {
                throw DatasetError.malformed(file, "image \(id) is listed twice (\(earlier) and \(location))")
            }
            samples.append(Sample(id: id, image: .file(image), label: label, metadata: row, split: .test))
        }
        return Dataset(samples: samples.sorted { $0.id < $1.id }, exclusions: tally.exclusions)
    }

    /// Paths of the regular, non-hidden files below `folder`, relative to it, sorted.
    private static func filesBelow(_ folder: URL) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(
            at: folder, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else {
            throw DatasetError.malformed(folder, "cannot list folder")
        }
        let base = folder.standardizedFileURL.resolvingSymlinksInPath().path
        var paths = [String]()
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
            let path = url.standardizedFileURL.resolvingSymlinksInPath().path
            paths.append(path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : url.lastPathComponent)
        }
        return paths.sorted()
    }
}

extension Predicate {
    /// Reads the command-line form `COLUMN OP VALUE`: `depth_m < 800`, `site in [A, B]`,
    /// `label == "PASS"`, with ops `<` `<=` `>` `>=` `==` `!=` `in`. Values that are plain
    /// decimal numbers compare as numbers, `true`/`false` as booleans, anything else (quotes
    /// removed) as text.
    public init(parsing text: String) throws {
        let scalars = Array(text.trimmingCharacters(in: .whitespaces))
        guard let opStart = scalars.firstIndex(where: { "<>=!".contains($0) }) ?? Self.wordIn(scalars) else {
            throw DatasetError.invalidConfiguration("\"\(text)\" is not COLUMN OP VALUE (ops: < <= > >= == != in)")
        }
        let column = String(scalars[..<opStart]).trimmingCharacters(in: .whitespaces)
        let rest = String(scalars[opStart...])
        guard let op = Comparison.allCases.sorted(by: { $0.rawValue.count > $1.rawValue.count })
            .first(where: { rest.hasPrefix($0.rawValue) }), !column.isEmpty else {
            throw DatasetError.invalidConfiguration("\"\(text)\" is not COLUMN OP VALUE (ops: < <= > >= == != in)")
        }
        let valueText = rest.dropFirst(op.rawValue.count).trimmingCharacters(in: .whitespaces)
        func value(_ token: String) -> MetadataValue {
            let unquoted = token.trimmingCharacters(in: .whitespaces)
            if unquoted.count >= 2, let first = unquoted.first, first == unquoted.last, first == "\"" || first == "'" {
                return .string(String(unquoted.dropFirst().dropLast()))
            }
            if unquoted == "true" || unquoted == "false" { return .bool(unquoted == "true") }
            return ManifestConfiguration.typedCell(unquoted)
        }
        if op == .isIn {
            guard valueText.hasPrefix("["), valueText.hasSuffix("]"), valueText.count > 2 else {
                throw DatasetError.invalidConfiguration("\"\(text)\": in needs a list, e.g. site in [A, B]")
            }
            self = .compare(column: column, op: op,
                            operands: valueText.dropFirst().dropLast().split(separator: ",").map { value(String($0)) })
        } else {
            guard !valueText.isEmpty else { throw DatasetError.invalidConfiguration("\"\(text)\" has no value") }
            self = .compare(column, op, value(valueText))
        }
    }

    /// Index of a standalone ` in ` in `scalars`.
    private static func wordIn(_ scalars: [Character]) -> Int? {
        let text = String(scalars)
        return text.range(of: " in ").map { text.distance(from: text.startIndex, to: $0.lowerBound) + 1 }
    }
}
