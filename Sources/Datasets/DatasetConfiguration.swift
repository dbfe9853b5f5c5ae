import Foundation

/// A dataset as an experiment spec names it: `{"kind": "mvtec", "root": "…", …}`.
///
/// Paths in configurations are used as given; call `resolvingPaths(relativeTo:)` first to
/// anchor relative ones (e.g. at the repository root or the spec's folder).
public enum DatasetConfiguration: Codable, Equatable, Sendable {
    case mvtec(MVTecConfiguration)
    case manifest(ManifestConfiguration)
    case folders(FoldersConfiguration)
    case elpv(ELPVConfiguration)
    case fashionMNIST(FashionMNISTConfiguration)

    /// The `kind` strings of the JSON form.
    public static let kinds = ["mvtec", "manifest", "folders", "elpv", "fashion-mnist"]

    /// Reads the dataset and applies its split rules.
    public func load() throws -> Dataset {
        switch self {
        case .mvtec(let configuration): return try configuration.load()
        case .manifest(let configuration): return try configuration.load()
        case .folders(let configuration): return try configuration.load()
        case .elpv(let configuration): return try configuration.load()
        case .fashionMNIST(let configuration): return try configuration.load()
        }
    }

    /// The same configuration with every relative path made absolute against `directory`.
    public func resolvingPaths(relativeTo directory: URL) -> DatasetConfiguration {
        func resolve(_ path: String) -> String { resolvePath(path, relativeTo: directory) }
        switch self {
        case .mvtec(var c): c.root = resolve(c.root); return .mvtec(c)
        case .manifest(var c): c.path = resolve(c.path); return .manifest(c)
        case .folders(var c): c.root = resolve(c.root); return .folders(c)
        case .elpv(var c): c.root = resolve(c.root); return .elpv(c)
        case .fashionMNIST(var c): c.root = resolve(c.root); return .fashionMNIST(c)
        }
    }

    private enum CodingKeys: String, CodingKey { case kind }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        switch kind {
        case "mvtec": self = .mvtec(try MVTecConfiguration(from: decoder))
        case "manifest": self = .manifest(try ManifestConfiguration(from: decoder))
        case "folders": self = .folders(try FoldersConfiguration(from: decoder))
        case "elpv": self = .elpv(try ELPVConfiguration(from: decoder))
        case "fashion-mnist": self = .fashionMNIST(try FashionMNISTConfiguration(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: container,
                debugDescription: "unknown dataset kind \"\(kind)\"; expected one of \(Self.kinds.joined(separator: ", "))")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .mvtec(let c): try container.encode("mvtec", forKey: .kind); try c.encode(to: encoder)
        case .manifest(let c): try container.encode("manifest", forKey: .kind); try c.encode(to: encoder)
        case .folders(let c): try container.encode("folders", forKey: .kind); try c.encode(to: encoder)
        case .elpv(let c): try container.encode("elpv", forKey: .kind); try c.encode(to: encoder)
        case .fashionMNIST(let c): try container.encode("fashion-mnist", forKey: .kind); try c.encode(to: encoder)
        }
    }
}

func resolvePath(_ path: String, relativeTo directory: URL) -> String {
    if path.hasPrefix("/") { return path }
    return directory.appendingPathComponent(path).standardizedFileURL.path
}

/// A coding key for any string, used to find keys a configuration does not know.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws when the JSON object being decoded has a key outside `allowed` (a misspelt
/// option must not be ignored silently). `kind` is always allowed.
func rejectUnknownKeys(in decoder: Decoder, allowed: [String]) throws {
    let container = try decoder.container(keyedBy: AnyCodingKey.self)
    let known = Set(allowed + ["kind"])
    if let unknown = container.allKeys.map(\.stringValue).filter({ !known.contains($0) }).sorted().first {
        throw DecodingError.dataCorrupted(DecodingError.Context(
            codingPath: decoder.codingPath + [AnyCodingKey(stringValue: unknown)],
            debugDescription: "unknown key \"\(unknown)\"; expected one of \(allowed.sorted().joined(separator: ", "))"))
    }
}
