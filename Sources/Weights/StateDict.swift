import FileErrors
import Foundation
import Tensors

/// Named tensors of a model checkpoint, read without Python.
///
/// Reads PyTorch `torch.save(model.state_dict())` files in the zip format
/// (torch ≥ 1.6) and the legacy format, and safetensors files. float32,
/// float16 and bfloat16 tensors become float32 ``Tensor``s (strided views are
/// made contiguous); int64 tensors (BatchNorm's `num_batches_tracked`) are
/// kept as integers, see ``integers(_:)``; entries of any other type or that
/// are not tensors are listed in ``keys`` but throw when taken.
public struct StateDict: Sendable {
    /// The on-disk format a state dict was read from.
    public enum Format: Sendable, Equatable {
        case torchZip, torchLegacy, safetensors, inMemory
    }

    enum Entry: Sendable {
        case float(Tensor)
        case integer(shape: [Int], values: [Int64])
        /// Present in the file but not readable as a tensor; the reason.
        case unsupported(String)
    }

    /// The file the tensors came from (its path), used in every error.
    public let source: String
    public let format: Format
    /// All entry names, in file order.
    public private(set) var keys: [String]
    private var entries: [String: Entry]

    /// Reads a checkpoint, detecting the format from its first bytes.
    public init(contentsOf url: URL) throws {
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw WeightsError.unreadable(file: file, reason: FileErrorDescription.reason(error))
        }
        let (format, items) = try data.withUnsafeBytes { bytes -> (Format, [(String, Entry)]) in
            if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
                return (.torchZip, try TorchCheckpoint.readZip(bytes, file: file))
            }
            if bytes.first == 0x80 {
                return (.torchLegacy, try TorchCheckpoint.readLegacy(bytes, file: file))
            }
            if bytes.count >= 9 && bytes[8] == UInt8(ascii: "{") {
                return (.safetensors, try Safetensors.read(bytes, file: file))
            }
            throw WeightsError.malformed(file: file, detail: "neither a PyTorch checkpoint nor a safetensors file")
        }
        try self.init(items, source: file, format: format)
    }

    /// A state dict of in-memory tensors (tests, placeholder weights);
    /// `source` names it in errors. The keys must be distinct.
    public init(tensors: [(String, Tensor)], source: String) {
        precondition(Set(tensors.map(\.0)).count == tensors.count, "duplicate keys in an in-memory state dict")
        self.source = source
        self.format = .inMemory
        self.keys = tensors.map(\.0)
        self.entries = Dictionary(uniqueKeysWithValues: tensors.map { ($0.0, Entry.float($0.1)) })
    }

    private init(_ items: [(String, Entry)], source: String, format: Format) throws {
        var entries: [String: Entry] = [:]
        for (key, entry) in items {
            guard entries.updateValue(entry, forKey: key) == nil else {
                throw WeightsError.malformed(file: source, detail: "key '\(key)' appears twice")
            }
        }
        self.source = source
        self.format = format
        self.keys = items.map(\.0)
        self.entries = entries
    }

    /// Number of entries (tensors of every type, and unreadable entries).
    public var count: Int { keys.count }

    /// Whether an entry named `key` exists (readable or not).
    public func contains(_ key: String) -> Bool { entries[key] != nil }

    /// The floating-point tensor `key`, converted to float32.
    public func tensor(_ key: String) throws -> Tensor {
        switch entries[key] {
        case let .float(tensor)?:
            return tensor
        case .integer?:
            throw WeightsError.unsupported(file: source, key: key, detail: "an int64 tensor where floats are expected")
        case let .unsupported(reason)?:
            throw WeightsError.unsupported(file: source, key: key, detail: reason)
        case nil:
            throw WeightsError.missingKey(file: source, key: key)
        }
    }

    /// The tensor `key`, which must have exactly `shape`.
    public func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        let tensor = try tensor(key)
        guard tensor.shape == shape else {
            throw WeightsError.shapeMismatch(file: source, key: key, expected: shape, found: tensor.shape)
        }
        return tensor
    }

    /// The shape of the floating-point tensor `key`.
    public func shape(of key: String) throws -> [Int] {
        try tensor(key).shape
    }

    /// Removes the tensor `key`, which must have exactly `shape`, and returns
    /// it: a model built by taking its weights holds their only copy, so
    /// folding or converting them does not double the memory.
    public mutating func take(_ key: String, shape: [Int]? = nil) throws -> Tensor {
        let tensor = try shape.map { try self.tensor(key, shape: $0) } ?? self.tensor(key)
        entries[key] = nil
        keys.removeAll { $0 == key }
        return tensor
    }

    /// The int64 tensor `key` (e.g. `bn1.num_batches_tracked`), flattened in row-major order.
    public func integers(_ key: String) throws -> [Int64] {
        switch entries[key] {
        case let .integer(_, values)?:
            return values
        case .float?:
            throw WeightsError.unsupported(file: source, key: key, detail: "a floating-point tensor where int64 is expected")
        case let .unsupported(reason)?:
            throw WeightsError.unsupported(file: source, key: key, detail: reason)
        case nil:
            throw WeightsError.missingKey(file: source, key: key)
        }
    }
}
