import Tensors

/// A torch storage named by a persistent id:
/// `('storage', torch.FloatStorage, key, location, numel[, view])`.
struct TorchStorageReference {
    let key: String
    let element: ElementType
    /// Number of elements.
    let count: Int

    init(persistentID: PickleValue, file: String) throws {
        guard case let .tuple(fields) = persistentID, fields.count >= 5,
              case .string("storage") = fields[0],
              case let .global(_, typeName) = fields[1],
              case let .string(key) = fields[2],
              case let .int(count) = fields[4] else {
            throw WeightsError.unsupported(file: file, key: nil, detail: "persistent id \(persistentID.kind) is not a torch storage")
        }
        guard let element = ElementType(torchStorage: typeName) else {
            throw WeightsError.unsupported(file: file, key: nil, detail: "storage type \(typeName)")
        }
        if fields.count > 5, case .none = fields[5] {} else if fields.count > 5 {
            throw WeightsError.unsupported(file: file, key: nil, detail: "storage views (pre-0.4 torch files)")
        }
        self.key = key
        self.element = element
        self.count = count
    }
}

/// The arguments of `torch._utils._rebuild_tensor_v2`: a view into a storage.
struct TorchTensorReference {
    let storage: TorchStorageReference
    /// Offset of the first element, in elements.
    let offset: Int
    let size: [Int]
    /// Per-axis step, in elements.
    let stride: [Int]

    init(arguments: [PickleValue], file: String) throws {
        func ints(_ value: PickleValue) -> [Int]? {
            guard case let .tuple(items) = value else { return nil }
            return items.compactMap { if case let .int(v) = $0 { return v } else { return nil } }
        }
        guard arguments.count >= 4, case let .storage(storage) = arguments[0],
              case let .int(offset) = arguments[1],
              let size = ints(arguments[2]), let stride = ints(arguments[3]),
              size.count == stride.count,
              case let .tuple(sizeItems) = arguments[2], sizeItems.count == size.count else {
            throw WeightsError.malformed(file: file, detail: "tensor rebuild arguments are not (storage, offset, size, stride)")
        }
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride
    }

    /// The tensor's elements from `storageBytes` (the whole storage), in row-major order.
    func entry(storageBytes: UnsafeRawBufferPointer, key: String, file: String) throws -> StateDict.Entry {
        let element = storage.element
        if case .other = element {
            return .unsupported("a \(element.name) tensor; only float32, float16 and bfloat16 are read")
        }
        let count = size.reduce(1, *)
        guard count > 0 else {
            return element == .int64 ? .integer(shape: size, values: []) : .float(Tensor(shape: size, data: []))
        }
        guard offset >= 0, stride.allSatisfy({ $0 >= 0 }), size.allSatisfy({ $0 >= 0 }) else {
            throw WeightsError.malformed(file: file, detail: "key '\(key)': negative offset, size or stride")
        }
        let span = zip(size, stride).reduce(1) { $0 + ($1.0 - 1) * $1.1 }
        guard offset + span <= storage.count, storage.count * element.size <= storageBytes.count else {
            throw WeightsError.truncated(
                file: file,
                detail: "key '\(key)': view of \(offset + span) elements in a storage of \(storage.count) (\(storageBytes.count) bytes stored)")
        }
        let raw = UnsafeRawBufferPointer(rebasing: storageBytes[offset * element.size ..< (offset + span) * element.size])
        if element == .int64 {
            return .integer(shape: size, values: gatherStrided(ElementType.decodeInt64(raw), size: size, stride: stride))
        }
        return .float(Tensor(shape: size, data: gatherStrided(element.decodeFloats(raw), size: size, stride: stride)))
    }
}

/// Readers of `torch.save` files: the zip format (torch ≥ 1.6) and the
/// legacy format (magic number, protocol, system-info and state-dict
/// pickles, the storage-key list, then each storage as an 8-byte element
/// count followed by its raw little-endian bytes).
enum TorchCheckpoint {
    /// The legacy format's magic number 0x1950a86a20f9469cfc6c, little-endian.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    static func readZip(_ bytes: UnsafeRawBufferPointer, file: String) throws -> [(String, StateDict.Entry)] {
        let archive = try ZipArchive(bytes, file: file)
        guard let pickleName = archive.names.first(where: { $0.hasSuffix("data.pkl") && $0.split(separator: "/").count == 2 }),
              let pickleRange = archive.entries[pickleName] else {
            throw WeightsError.malformed(file: file, detail: "zip archive without <name>/data.pkl (not a torch.save file)")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if let orderRange = archive.entries[prefix + "byteorder"] {
            let order = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[orderRange]), as: UTF8.self)
            guard order == "little" else {
                throw WeightsError.unsupported(file: file, key: nil, detail: "byte order '\(order)'")
            }
        }
        var cursor = ByteCursor(UnsafeRawBufferPointer(rebasing: bytes[pickleRange]), file: file)
        let root = try unpickleStateDict(&cursor, file: file)
        return try materialize(root, file: file) { storage in
            guard let range = archive.entries[prefix + "data/" + storage.key] else {
                throw WeightsError.truncated(file: file, detail: "zip member \(prefix)data/\(storage.key) is missing")
            }
            return UnsafeRawBufferPointer(rebasing: bytes[range])
        }
    }

    static func readLegacy(_ bytes: UnsafeRawBufferPointer, file: String) throws -> [(String, StateDict.Entry)] {
        var cursor = ByteCursor(bytes, file: file)
        var plain = Unpickler { pid in
            throw WeightsError.malformed(file: file, detail: "unexpected persistent id \(pid.kind) in a header pickle")
        }
        guard case let .bigInt(magic) = try plain.load(&cursor), magic == legacyMagic else {
            throw WeightsError.malformed(file: file, detail: "wrong magic number: not a legacy torch.save file")
        }
        guard case let .int(version) = try plain.load(&cursor), version == 1001 else {
            throw WeightsError.unsupported(file: file, key: nil, detail: "legacy protocol version other than 1001")
        }
        if case let .dict(info) = try plain.load(&cursor),
           let entry = info.items.first(where: { if case .string("little_endian") = $0.key { return true } else { return false } }),
           case .bool(false) = entry.value {
            throw WeightsError.unsupported(file: file, key: nil, detail: "big-endian checkpoint")
        }
        let root = try unpickleStateDict(&cursor, file: file)
        guard case let .list(keyList) = try plain.load(&cursor) else {
            throw WeightsError.malformed(file: file, detail: "storage key list missing after the state dict")
        }
        var storages: [String: TorchStorageReference] = [:]
        collectStorages(root, into: &storages)
        var ranges: [String: Range<Int>] = [:]
        for item in keyList.items {
            guard case let .string(key) = item, let storage = storages[key] else {
                throw WeightsError.malformed(file: file, detail: "storage key list names \(item.kind) that no tensor uses")
            }
            let count = Int(try cursor.unsigned(8, "the element count of storage \(key)"))
            let length = count * storage.element.size
            try cursor.require(length, for: "storage \(key) (\(count) × \(storage.element.size) bytes)")
            ranges[key] = cursor.position ..< cursor.position + length
            cursor.position += length
        }
        return try materialize(root, file: file) { storage in
            guard let range = ranges[storage.key] else {
                throw WeightsError.malformed(file: file, detail: "storage \(storage.key) is not in the storage key list")
            }
            return UnsafeRawBufferPointer(rebasing: bytes[range])
        }
    }

    /// Unpickles the state-dict pickle, resolving persistent ids to storages.
    private static func unpickleStateDict(_ cursor: inout ByteCursor, file: String) throws -> PickleValue {
        var unpickler = Unpickler { .storage(try TorchStorageReference(persistentID: $0, file: file)) }
        return try unpickler.load(&cursor)
    }

    private static func collectStorages(_ value: PickleValue, into storages: inout [String: TorchStorageReference]) {
        switch value {
        case let .tensor(tensor): storages[tensor.storage.key] = tensor.storage
        case let .dict(dict): for item in dict.items { collectStorages(item.value, into: &storages) }
        case let .list(list): for item in list.items { collectStorages(item, into: &storages) }
        case let .tuple(items): for item in items { collectStorages(item, into: &storages) }
        default: break
        }
    }

    /// The entries of the root dict, in order. A root that holds no tensors
    /// but a `state_dict` or `model` dict (a training checkpoint) is unwrapped.
    private static func materialize(
        _ root: PickleValue, file: String,
        storageBytes: (TorchStorageReference) throws -> UnsafeRawBufferPointer
    ) throws -> [(String, StateDict.Entry)] {
        guard case var .dict(dict) = root else {
            throw WeightsError.unsupported(file: file, key: nil, detail: "the pickled object is \(root.kind), not a state dict")
        }
        let holdsTensors = dict.items.contains { if case .tensor = $0.value { return true } else { return false } }
        if !holdsTensors, let inner = dict.items.first(where: {
            if case .string("state_dict") = $0.key { return true }
            if case .string("model") = $0.key { return true }
            return false
        }), case let .dict(innerDict) = inner.value {
            dict = innerDict
        }
        return try dict.items.map { item in
            guard case let .string(key) = item.key else {
                throw WeightsError.unsupported(file: file, key: nil, detail: "state dict key \(item.key.kind), not a string")
            }
            guard case let .tensor(tensor) = item.value else {
                return (key, .unsupported("\(item.value.kind), not a tensor"))
            }
            return (key, try tensor.entry(storageBytes: try storageBytes(tensor.storage), key: key, file: file))
        }
    }
}
