import FileErrors
import Foundation

/// The samples of a dataset after its split rules, and what was left out.
public struct Dataset: Sendable {
    /// Training samples (normal only), then test samples; each part sorted by `id`.
    public var samples: [Sample]
    /// Samples left out, grouped by reason, sorted by reason.
    public var exclusions: [Exclusion]

    public init(samples: [Sample], exclusions: [Exclusion]) {
        self.samples = samples
        self.exclusions = exclusions
    }

    /// The training samples, sorted by `id`.
    public var train: [Sample] { samples.filter { $0.split == .train } }
    /// The test samples, sorted by `id`.
    public var test: [Sample] { samples.filter { $0.split == .test } }

    /// Counts per split and label, and the exclusions.
    public var report: SplitReport { SplitReport(samples: samples, exclusions: exclusions) }
}

/// Samples left out of a dataset for one reason.
public struct Exclusion: Hashable, Sendable, CustomStringConvertible {
    /// Why, e.g. `missing depth_m` or `defect probability 0.333 (between PASS and FAIL)`.
    public var reason: String
    public var count: Int

    public init(reason: String, count: Int) {
        self.reason = reason
        self.count = count
    }

    public var description: String { "\(reason): \(count) excluded" }
}

/// How many samples each split holds per label, and how many were excluded and why.
public struct SplitReport: Sendable, CustomStringConvertible {
    /// Number of samples per split and label.
    public var counts: [Split: [Label: Int]]
    public var exclusions: [Exclusion]

    public init(samples: [Sample], exclusions: [Exclusion]) {
        var counts = [Split: [Label: Int]]()
        for sample in samples { counts[sample.split, default: [:]][sample.label, default: 0] += 1 }
        self.counts = counts
        self.exclusions = exclusions
    }

    /// Number of samples in `split` (optionally only those of `kind`).
    public func count(_ split: Split, _ kind: Label.Kind? = nil) -> Int {
        (counts[split] ?? [:]).filter { kind == nil || $0.key.kind == kind }.values.reduce(0, +)
    }

    /// Number of excluded samples.
    public var excludedCount: Int { exclusions.reduce(0) { $0 + $1.count } }

    /// One line per split and one per exclusion reason, e.g.
    /// `test: 83 = normal 20 (good 20) + anomalous 63 (broken_large 20, broken_small 22, contamination 21)`.
    public var description: String {
        var lines = [String]()
        for split in Split.allCases {
            let labels = counts[split] ?? [:]
            let parts = Label.Kind.allCases.compactMap { kind -> String? in
                let names = labels.filter { $0.key.kind == kind }.sorted { $0.key.name < $1.key.name }
                guard !names.isEmpty else { return nil }
                let total = names.reduce(0) { $0 + $1.value }
                return "\(kind.rawValue) \(total) (" + names.map { "\($0.key.name) \($0.value)" }
                    .joined(separator: ", ") + ")"
            }
            lines.append("\(split.rawValue): \(count(split))" + (parts.isEmpty ? "" : " = " + parts.joined(separator: " + ")))
        }
        lines += exclusions.map { "excluded: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// Errors while reading a dataset; each names the file or folder and the reason.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// A file or folder the layout requires does not exist.
    case missing(URL, String)
    /// A path the layout requires is of the wrong kind: a file where a folder belongs
    /// (`expectedFolder`) or the reverse.
    case wrongKind(URL, String, expectedFolder: Bool)
    /// Registry assets installed by `make setup` are absent.
    case missingAssets(URL)
    /// A file exists but cannot be read as expected.
    case malformed(URL, String)
    /// The configuration is inconsistent (e.g. a train fraction outside 0…1).
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .missing(let url, let what): return "\(what) not found: \(url.path)"
        case .wrongKind(let url, let what, let expectedFolder):
            return expectedFolder ? "\(what) is a file, not a folder: \(url.path)"
                : "\(what) is a folder, not a file: \(url.path)"
        case .missingAssets(let url): return "\(url.path) not found; run `make setup` to install the dataset"
        case .malformed(let url, let reason): return "\(url.path): \(reason)"
        case .invalidConfiguration(let reason): return "invalid dataset configuration: \(reason)"
        }
    }
}

/// Counts samples left out, by reason.
struct ExclusionTally {
    private var counts = [String: Int]()

    mutating func add(_ reason: String, _ count: Int = 1) {
        guard count > 0 else { return }
        counts[reason, default: 0] += count
    }

    var exclusions: [Exclusion] {
        counts.map { Exclusion(reason: $0.key, count: $0.value) }.sorted { $0.reason < $1.reason }
    }
}

/// Training samples then test samples, each sorted by id, with `split` set.
func assemble(train: [Sample], test: [Sample]) -> [Sample] {
    train.map { var s = $0; s.split = .train; return s }.sorted { $0.id < $1.id }
        + test.map { var s = $0; s.split = .test; return s }.sorted { $0.id < $1.id }
}

/// File extensions (lowercase) of the images the Images target decodes.
let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

/// The non-hidden entries directly inside `folder` that are not folders, sorted by name:
/// `files` can be opened; `broken` are symbolic links that lead nowhere (dangling, or a loop),
/// which callers exclude and name rather than drop.
func listFiles(in folder: URL) throws -> (files: [URL], broken: [URL]) {
    let names: [String]
    do {
        names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    } catch {
        throw DatasetError.malformed(folder, "cannot list folder: \(FileErrorDescription.reason(error))")
    }
    var files = [URL](), broken = [URL]()
    for url in names.filter({ !$0.hasPrefix(".") }).sorted().map({ folder.appendingPathComponent($0) }) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { files.append(url) }
        } else if (try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)) != nil {
            broken.append(url)
        }
    }
    return (files, broken)
}

/// Adds each of `links` to `tally` under its own name, e.g.
/// `broken or looping symbolic link: PASS/loop.png`.
func excludeBrokenLinks(_ links: [URL], in root: URL, to tally: inout ExclusionTally) {
    for link in links {
        let name = link.path.hasPrefix(root.path + "/") ? String(link.path.dropFirst(root.path.count + 1)) : link.path
        tally.add("broken or looping symbolic link: \(name)")
    }
}

/// Sorted subfolder names of `folder` (hidden ones skipped).
func listFolders(in folder: URL) throws -> [String] {
    let names: [String]
    do {
        names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    } catch {
        throw DatasetError.malformed(folder, "cannot list folder: \(FileErrorDescription.reason(error))")
    }
    return names.filter { name in
        var isDirectory: ObjCBool = false
        return !name.hasPrefix(".")
            && FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }.sorted()
}

func requireFolder(_ url: URL, _ what: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw DatasetError.missing(url, what)
    }
    guard isDirectory.boolValue else { throw DatasetError.wrongKind(url, what, expectedFolder: true) }
}

func requireFile(_ url: URL, _ what: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw DatasetError.missing(url, what)
    }
    guard !isDirectory.boolValue else { throw DatasetError.wrongKind(url, what, expectedFolder: false) }
}
