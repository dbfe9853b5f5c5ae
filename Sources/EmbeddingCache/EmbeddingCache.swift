import CHDF5
import HDF5
import Foundation
import Tensors

/// Features of an image set stored in HDF5 files, one file per `FeatureKey`:
/// `<directory>/<key sha256>.h5`, written as `<key sha256>.h5.partial` and renamed when
/// every image is in.
///
/// File layout (readable by h5py):
///
///     /image_ids            string [N], variable-length UTF-8: row order of every dataset
///     /completed            uint8 [N]: 1 once row i of every tap is written (flushed after each batch)
///     /features/<tap>       float32 [N, C, H, W] (maps) or [N, D] (pooled), one chunk per
///                           image, shuffle + deflate(1) + Fletcher-32; attribute `shape` int64 [rank]
///     attributes on /:      format = "trawl-embeddings/1", key (canonical key JSON),
///                           key_sha256, spec_hash, tool_version
///
/// A file that cannot be opened, belongs to another key or image list, or has datasets of
/// inconsistent shapes is never trusted: `entry` deletes it and says so in `warnings`.
/// Not safe for concurrent use of one file by several processes.
public struct EmbeddingCache: Sendable {
    /// Folder holding the cache files; created when needed.
    public let directory: URL

    /// The `format` attribute of files this code writes.
    public static let format = "trawl-embeddings/1"

    public init(directory: URL) {
        self.directory = directory
    }

    /// URL of the finished file for `key`.
    public func url(for key: FeatureKey) -> URL {
        directory.appendingPathComponent(key.sha256 + ".h5")
    }

    /// The entry for `key` over `imageIDs` (row order; `key.images` must fingerprint the
    /// same list): a finished file, a partial one to resume, or a new partial file.
    /// Invalid files are deleted and reported in the entry's `warnings`.
    public func entry(for key: FeatureKey, imageIDs: [String], specHash: String) throws -> CacheEntry {
        try withHDF5 { try CacheEntry(cache: self, key: key, imageIDs: imageIDs, specHash: specHash) }
    }

    /// Features for `key`, computing only what the cache lacks.
    ///
    /// `extract` receives ids (in row order, at most `batchSize`) and returns, for every
    /// tap of the key, a tensor whose first axis runs over those ids. Two kinds of bad
    /// file are deleted, reported in `warnings` and rebuilt once: a finished file that
    /// fails to read back (e.g. a checksum error), and a resumed partial file whose rows
    /// have other shapes than `extract` now returns (features code changed without a
    /// `toolVersion` bump).
    public func features(for key: FeatureKey, imageIDs: [String], specHash: String, batchSize: Int,
                         extract: ([String]) throws -> [String: Tensor]) throws -> CachedFeatures {
        precondition(batchSize > 0, "batchSize must be positive")
        var warnings = [String]()
        var computed = 0
        for attempt in 0..<2 {
            let entry = try self.entry(for: key, imageIDs: imageIDs, specHash: specHash)
            warnings += entry.warnings
            let resumed = !entry.isComplete && entry.missingIDs.count < imageIDs.count
            var missing = entry.missingIDs[...]
            do {
                while !missing.isEmpty {
                    let batch = Array(missing.prefix(batchSize))
                    missing = missing.dropFirst(batch.count)
                    try entry.append(ids: batch, features: try extract(batch))
                    computed += batch.count
                }
                if !entry.isComplete { try entry.finish() }
                let features = try Dictionary(uniqueKeysWithValues: key.taps.map { ($0, try entry.read(tap: $0)) })
                return CachedFeatures(features: features, warnings: warnings, computedCount: computed)
            } catch EmbeddingCacheError.corrupt(let url, let reason) where attempt == 0 {
                warnings.append("\(url.path): \(reason); deleted, the features will be recomputed")
                entry.discard()
            } catch EmbeddingCacheError.mismatchedFeatures(let url, let reason) where attempt == 0 && resumed {
                warnings.append("\(url.path): \(reason); deleted, the features will be recomputed")
                entry.discard()
            }
        }
        preconditionFailure("unreachable: the second attempt returns or throws")
    }
}

/// What `EmbeddingCache.features` returns.
public struct CachedFeatures {
    /// Tap name → `[N, …]` features in `imageIDs` order.
    public var features: [String: Tensor]
    /// Problems found with existing files (each names the file and the reason).
    public var warnings: [String]
    /// Number of images whose features were extracted and stored by this call rather than read.
    public var computedCount: Int
}

/// Errors of the embedding cache.
public enum EmbeddingCacheError: Error, Equatable, CustomStringConvertible {
    /// The key or image list cannot describe a cache file (reason given).
    case invalidKey(String)
    /// An image file could not be read for its fingerprint.
    case unreadableImage(URL, String)
    /// The cache folder or file could not be written.
    case io(URL, String)
    /// A finished file failed to read back.
    case corrupt(URL, String)
    /// `append` got ids, taps or shapes that do not fit the entry.
    case mismatchedFeatures(URL, String)
    /// `finish` or `read` on an entry that still lacks rows.
    case incomplete(URL, missing: Int)

    public var description: String {
        switch self {
        case .invalidKey(let reason): return "invalid cache key: \(reason)"
        case .unreadableImage(let url, let reason): return "\(url.path): cannot read image for its fingerprint: \(reason)"
        case .io(let url, let reason): return "\(url.path): \(reason)"
        case .corrupt(let url, let reason): return "\(url.path): corrupt cache file: \(reason)"
        case .mismatchedFeatures(let url, let reason): return "\(url.path): features do not fit the cache entry: \(reason)"
        case .incomplete(let url, let missing): return "\(url.path): \(missing) images still missing"
        }
    }
}

/// One cache file: finished (read it) or partial (append the missing rows, then finish).
public final class CacheEntry {
    public let key: FeatureKey
    /// Row order of every dataset in the file.
    public let imageIDs: [String]
    /// The finished file's URL (`<key sha256>.h5`).
    public let url: URL
    /// Where rows are written until the file is complete (`<key sha256>.h5.partial`).
    public let partialURL: URL
    /// Invalid files found and deleted while opening, each naming the file and reason.
    public let warnings: [String]

    private let rowOfID: [String: Int]
    /// 1 where row i is written for every tap.
    private var completed: [UInt8]
    /// Per-image shape of each tap dataset already created.
    private var rowShapes: [String: [Int]]
    /// The open partial file, nil once finished.
    private var file: hid_t?

    fileprivate init(cache: EmbeddingCache, key: FeatureKey, imageIDs: [String], specHash: String) throws {
        guard !imageIDs.isEmpty else { throw EmbeddingCacheError.invalidKey("no images") }
        guard key.images.count == imageIDs.count else {
            throw EmbeddingCacheError.invalidKey("key fingerprints \(key.images.count) images, \(imageIDs.count) ids given")
        }
        guard !key.taps.isEmpty, Set(key.taps).count == key.taps.count,
              key.taps.allSatisfy({ !$0.isEmpty && $0 != "." && !$0.contains("/") }) else {
            throw EmbeddingCacheError.invalidKey("taps \(key.taps) must be distinct, non-empty and free of \"/\"")
        }
        var rowOfID = [String: Int]()
        for (row, id) in imageIDs.enumerated() where rowOfID.updateValue(row, forKey: id) != nil {
            throw EmbeddingCacheError.invalidKey("image id \(id) appears twice")
        }
        self.key = key
        self.imageIDs = imageIDs
        self.rowOfID = rowOfID
        url = cache.url(for: key)
        partialURL = URL(fileURLWithPath: url.path + ".partial")
        do {
            try FileManager.default.createDirectory(at: cache.directory, withIntermediateDirectories: true)
        } catch {
            throw EmbeddingCacheError.io(cache.directory, "cannot create cache folder: \(error.localizedDescription)")
        }

        var warnings = [String]()
        func reject(_ url: URL, _ reason: String) {
            warnings.append("\(url.path): \(reason); deleted, the features will be recomputed")
            try? FileManager.default.removeItem(at: url)
        }
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                let state = try Self.inspect(url, key: key, imageIDs: imageIDs, writable: false)
                H5Fclose(state.file)
                guard state.completed.allSatisfy({ $0 == 1 }) else {
                    throw HDF5Failure(description: "finished file lacks \(state.completed.filter { $0 != 1 }.count) rows")
                }
                completed = state.completed
                rowShapes = state.rowShapes
                self.warnings = warnings
                try? FileManager.default.removeItem(at: partialURL)
                return
            } catch let failure as HDF5Failure {
                reject(url, failure.description)
            }
        }
        if FileManager.default.fileExists(atPath: partialURL.path) {
            do {
                let state = try Self.inspect(partialURL, key: key, imageIDs: imageIDs, writable: true)
                (file, completed, rowShapes) = (state.file, state.completed, state.rowShapes)
                self.warnings = warnings
                return
            } catch let failure as HDF5Failure {
                reject(partialURL, failure.description)
            }
        }
        completed = [UInt8](repeating: 0, count: imageIDs.count)
        rowShapes = [:]
        self.warnings = warnings
        do {
            let file = try createFile(partialURL.path)
            self.file = file
            try writeStringAttribute(file, "format", EmbeddingCache.format)
            try writeStringAttribute(file, "key", key.canonicalJSON)
            try writeStringAttribute(file, "key_sha256", key.sha256)
            try writeStringAttribute(file, "spec_hash", specHash)
            try writeStringAttribute(file, "tool_version", key.toolVersion)
            try writeStrings(file, "image_ids", imageIDs)
            try writeBytes(file, "completed", completed)
            try createGroup(file, "features")
            try check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush")
        } catch let failure as HDF5Failure {
            throw EmbeddingCacheError.io(partialURL, failure.description)
        }
    }

    deinit {
        if let file { withHDF5 { _ = H5Fclose(file) } }
    }

    /// Whether every row is written and the file is in its final place.
    public var isComplete: Bool { file == nil }

    /// Ids whose rows are not written yet, in row order.
    public var missingIDs: [String] {
        zip(imageIDs, completed).filter { $0.1 == 0 }.map(\.0)
    }

    /// Writes the rows of `ids`: `features[tap]` is `[ids.count, …]` for every tap of the
    /// key, the per-image shape the same on every call. Rows are flushed to disk and then
    /// marked completed, so an interrupted run resumes after the last whole batch.
    public func append(ids: [String], features: [String: Tensor]) throws {
        try withHDF5 {
            guard let file else { throw EmbeddingCacheError.mismatchedFeatures(url, "the entry is already complete") }
            func mismatch(_ reason: String) -> EmbeddingCacheError { .mismatchedFeatures(partialURL, reason) }
            guard Set(features.keys) == Set(key.taps) else {
                throw mismatch("taps \(features.keys.sorted()) given, key has \(key.taps.sorted())")
            }
            let rows = try ids.map { id -> Int in
                guard let row = rowOfID[id] else { throw mismatch("unknown image id \(id)") }
                return row
            }
            guard Set(rows).count == rows.count else { throw mismatch("an image id appears twice in one batch") }
            for tap in key.taps {
                let tensor = features[tap]!
                guard tensor.rank >= 2, tensor.shape[0] == ids.count else {
                    throw mismatch("tap \(tap) has shape \(tensor.shape), expected [\(ids.count), …]")
                }
                let rowShape = Array(tensor.shape.dropFirst())
                if let existing = rowShapes[tap], existing != rowShape {
                    throw mismatch("tap \(tap) rows have shape \(rowShape), the file holds \(existing)")
                }
            }
            do {
                for tap in key.taps {
                    let tensor = features[tap]!
                    let rowShape = Array(tensor.shape.dropFirst())
                    if rowShapes[tap] == nil {
                        try createFloatDataset(file, "features/\(tap)", shape: [imageIDs.count] + rowShape)
                        rowShapes[tap] = rowShape
                    }
                    let rowSize = rowShape.reduce(1, *)
                    try tensor.data.withUnsafeBufferPointer { data in
                        for (i, row) in rows.enumerated() {
                            try writeFloatRow(file, "features/\(tap)", index: row,
                                              row: UnsafeBufferPointer(rebasing: data[i * rowSize ..< (i + 1) * rowSize]))
                        }
                    }
                }
                try check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush")
                for row in rows { completed[row] = 1 }
                try writeBytes(file, "completed", completed)
                try check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush")
            } catch let failure as HDF5Failure {
                throw EmbeddingCacheError.io(partialURL, failure.description)
            }
        }
    }

    /// Closes the partial file and renames it to `url` (atomically replacing any file there).
    public func finish() throws {
        try withHDF5 {
            guard let file else { return }
            let missing = completed.filter { $0 == 0 }.count
            guard missing == 0 else { throw EmbeddingCacheError.incomplete(partialURL, missing: missing) }
            self.file = nil
            guard H5Fclose(file) >= 0 else { throw EmbeddingCacheError.io(partialURL, "cannot close the file") }
            guard rename(partialURL.path, url.path) == 0 else {
                throw EmbeddingCacheError.io(url, "cannot rename \(partialURL.lastPathComponent): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// All rows of `tap`: `[N, …]` in `imageIDs` order. Throws `.corrupt` when the finished
    /// file does not read back (then `discard` it and build a new entry).
    public func read(tap: String) throws -> Tensor {
        try withHDF5 {
            guard file == nil else { throw EmbeddingCacheError.incomplete(partialURL, missing: missingIDs.count) }
            guard let rowShape = rowShapes[tap] else { throw EmbeddingCacheError.invalidKey("tap \(tap) is not in the key") }
            do {
                let file = try openFile(url.path, writable: false)
                defer { H5Fclose(file) }
                let shape = [imageIDs.count] + rowShape
                return Tensor(shape: shape, data: try readFloats(file, "features/\(tap)", count: shape.reduce(1, *)))
            } catch let failure as HDF5Failure {
                throw EmbeddingCacheError.corrupt(url, failure.description)
            }
        }
    }

    /// Deletes the entry's files; the entry must not be used afterwards.
    public func discard() {
        withHDF5 {
            if let file { H5Fclose(file); self.file = nil }
            try? FileManager.default.removeItem(at: url)
            try? FileManager.default.removeItem(at: partialURL)
        }
    }

    /// Opens `url` and checks it against the key and ids; returns the open file, the
    /// completed flags and the per-image shapes of the tap datasets present.
    private static func inspect(_ url: URL, key: FeatureKey, imageIDs: [String], writable: Bool) throws
        -> (file: hid_t, completed: [UInt8], rowShapes: [String: [Int]]) {
        guard isHDF5(url.path) else { throw HDF5Failure(description: "not an HDF5 file (truncated or overwritten)") }
        let file = try openFile(url.path, writable: writable)
        do {
            let format = try readStringAttribute(file, "format")
            guard format == EmbeddingCache.format else { throw HDF5Failure(description: "format \(format), expected \(EmbeddingCache.format)") }
            let storedHash = try readStringAttribute(file, "key_sha256")
            guard storedHash == key.sha256, try readStringAttribute(file, "key") == key.canonicalJSON else {
                throw HDF5Failure(description: "written for another key (\(storedHash))")
            }
            guard try readStrings(file, "image_ids") == imageIDs else { throw HDF5Failure(description: "image ids differ from the key's") }
            let completed = try readBytes(file, "completed")
            guard completed.count == imageIDs.count, completed.allSatisfy({ $0 <= 1 }) else {
                throw HDF5Failure(description: "completed flags do not match \(imageIDs.count) images")
            }
            let members = try memberNames(file, "features")
            if let stray = members.first(where: { !key.taps.contains($0) }) {
                throw HDF5Failure(description: "unexpected dataset features/\(stray)")
            }
            var rowShapes = [String: [Int]]()
            for tap in members {
                let info = try datasetInfo(file, "features/\(tap)")
                guard info.typeClass == H5T_FLOAT, info.typeSize == 4 else {
                    throw HDF5Failure(description: "features/\(tap) is not float32")
                }
                guard info.shape.count >= 2, info.shape[0] == imageIDs.count, info.shape.allSatisfy({ $0 > 0 }) else {
                    throw HDF5Failure(description: "features/\(tap) has shape \(info.shape), expected [\(imageIDs.count), …]")
                }
                let dataset = try check(id: H5Dopen2(file, "features/\(tap)", trawl_h5p_default()), "cannot open features/\(tap)")
                defer { H5Dclose(dataset) }
                guard try readInt64Attribute(dataset, "shape").map({ Int($0) }) == info.shape else {
                    throw HDF5Failure(description: "features/\(tap) disagrees with its shape attribute")
                }
                rowShapes[tap] = Array(info.shape.dropFirst())
            }
            if completed.contains(1), let absent = key.taps.first(where: { rowShapes[$0] == nil }) {
                throw HDF5Failure(description: "rows are marked completed but features/\(absent) is missing")
            }
            return (file, completed, rowShapes)
        } catch {
            H5Fclose(file)
            throw error
        }
    }
}
