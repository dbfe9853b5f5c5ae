import CHDF5
import Checksums
import FileLocks
import HDF5
import Foundation
import Tensors

/// Features of an image set stored in HDF5 files, one file per `FeatureKey`:
/// `<directory>/<key sha256>.h5`, written as `<key sha256>.h5.partial` and renamed when
/// every image is in and every row has been read back and verified.
///
/// File layout (readable by h5py):
///
///     /image_ids            string [N], variable-length UTF-8: row order of every dataset
///     /completed            uint8 [N]: 1 once row i of every tap is written (flushed after each batch)
///     /features/<tap>       float32 [N, C, H, W] (maps) or [N, D] (pooled), one chunk per
///                           image, uncompressed, Fletcher-32; attribute `shape` int64 [rank]
///     /checksums/<tap>      uint32 [N]: CRC-32 (zlib's) of row i's float32 bytes, little-endian,
///                           written with the row; 0 for rows not written yet
///     attributes on /:      format = "trawl-embeddings/2", key (canonical key JSON),
///                           key_sha256, spec_hash, tool_version
///
/// Guarantees:
/// - **Locked.** Each key has a lock file, `<key sha256>.lock` (`flock`), held while the
///   entry is inspected and while a partial file is written; a second process waits for
///   the first (and then reuses what it finished). Nothing deletes or moves a file
///   another process holds.
/// - **Verified.** Every HDF5 status is checked (a full disk fails the run with the
///   file's name, never leaves zeros behind); a file is finished only after all its rows
///   read back with their checksums, and every read verifies them again.
/// - **Never trusted blindly.** A file that cannot be opened, belongs to another key or
///   image list, has datasets of inconsistent shapes or rows that fail their checksum
///   (or is not a file at all) is moved aside to `<name>.corrupt-<UTC time>` and rebuilt,
///   with a warning naming it and the reason; a file of an older format is replaced.
public struct EmbeddingCache: Sendable {
    /// Folder holding the cache files; created when needed.
    public let directory: URL

    /// The `format` attribute of files this code writes.
    public static let format = "trawl-embeddings/2"

    public init(directory: URL) {
        self.directory = directory
    }

    /// URL of the finished file for `key`: `<key sha256>.h5`, or for a shard key, next to
    /// its whole key's file, `<whole key sha256>.shard-<I>-of-<N>.h5`.
    public func url(for key: FeatureKey) -> URL {
        directory.appendingPathComponent(fileStem(key) + ".h5")
    }

    /// URL of the lock file for `key`.
    public func lockURL(for key: FeatureKey) -> URL {
        directory.appendingPathComponent(fileStem(key) + ".lock")
    }

    private func fileStem(_ key: FeatureKey) -> String {
        guard let shard = key.shard else { return key.sha256 }
        return "\(key.whole.sha256).shard-\(shard.index)-of-\(shard.count)"
    }

    /// The ids of `imageIDs` that `shard` holds, in row order.
    public static func ids(_ imageIDs: [String], in shard: ImageShard) -> [String] {
        imageIDs.filter(shard.contains)
    }

    /// The entry for `key` over `imageIDs` (row order; `key.images` must fingerprint the
    /// same list): a finished file, a partial one to resume, or a new partial file.
    /// Invalid files are moved aside and reported in the entry's `warnings`. While another
    /// process holds the key's lock, `waiting` gets one line saying for whom, and the
    /// call waits. A partial entry holds the lock until it is finished or closed.
    public func entry(for key: FeatureKey, imageIDs: [String], specHash: String,
                      waiting: (String) -> Void = { _ in }) throws -> CacheEntry {
        try CacheEntry(cache: self, key: key, imageIDs: imageIDs, specHash: specHash, waiting: waiting)
    }

    /// Features for `key`, computing only what the cache lacks, as rows to read one image
    /// at a time (the file is read back and verified row by row, never held whole).
    ///
    /// `extract` receives ids (in row order, at most `batchSize`) and returns, for every
    /// tap of the key, a tensor whose first axis runs over those ids. Two kinds of bad
    /// file are moved aside, reported in `warnings` and rebuilt once: a file whose rows
    /// fail to read back or verify, and a resumed partial file whose rows have other
    /// shapes than `extract` now returns (features code changed without a `toolVersion`
    /// bump).
    public func features(for key: FeatureKey, imageIDs: [String], specHash: String, batchSize: Int,
                         waiting: (String) -> Void = { _ in },
                         extract: ([String]) throws -> [String: Tensor]) throws -> CachedFeatures {
        precondition(batchSize > 0, "batchSize must be positive")
        var warnings = [String]()
        var computed = Set<String>()
        for attempt in 0..<2 {
            let entry = try self.entry(for: key, imageIDs: imageIDs, specHash: specHash, waiting: waiting)
            defer { entry.close() }
            warnings += entry.warnings
            let resumed = !entry.isComplete && entry.missingIDs.count < imageIDs.count
            let wasComplete = entry.isComplete
            let shards = try mergeShards(into: entry, waiting: waiting)
            warnings += shards.warnings
            var missing = entry.missingIDs[...]
            do {
                while !missing.isEmpty {
                    let batch = Array(missing.prefix(batchSize))
                    missing = missing.dropFirst(batch.count)
                    try entry.append(ids: batch, features: try extract(batch))
                    computed.formUnion(batch)
                }
                // `finish` verifies what it writes; a file found finished is verified here.
                if !entry.isComplete { try entry.finish() }
                let rows = try entry.rows()
                if wasComplete { try rows.verifyAll() }
                removeMerged(shards.files)
                return CachedFeatures(rows: rows, warnings: warnings, computedCount: computed.count)
            } catch EmbeddingCacheError.corrupt(let url, let reason) where attempt == 0 {
                warnings.append(try entry.setAside(url, reason: reason))
            } catch EmbeddingCacheError.mismatchedFeatures(let url, let reason) where attempt == 0 && resumed {
                warnings.append(try entry.setAside(url, reason: reason))
            }
        }
        preconditionFailure("unreachable: the second attempt returns or throws")
    }

    /// Merges the finished shard files of `key` (`trawl extract --shard I/N`, written by
    /// Slurm array tasks) into its whole file: fails naming every shard of `count` that is
    /// missing, unfinished or corrupt (corrupt files are moved aside first, as always).
    /// Returns the warnings; the merged shard files are removed once the whole file is finished.
    public func mergeShards(for key: FeatureKey, imageIDs: [String], count: Int, specHash: String,
                            waiting: (String) -> Void = { _ in }) throws -> [String] {
        precondition(key.shard == nil, "merge into the whole key's file")
        let entry = try self.entry(for: key, imageIDs: imageIDs, specHash: specHash, waiting: waiting)
        defer { entry.close() }
        var warnings = entry.warnings
        let shards = try mergeShards(into: entry, waiting: waiting)
        warnings += shards.warnings
        let missing = Set(entry.missingIDs.map { ImageShard.index(of: $0, count: count) }).sorted()
        guard missing.isEmpty else {
            let shards = missing.map { ImageShard(index: $0, count: count) }
            throw EmbeddingCacheError.missingShards(shards, files: shards.map { url(for: key.sharded($0)) },
                                                    warnings: warnings)
        }
        if !entry.isComplete { try entry.finish() }
        removeMerged(shards.files)
        return warnings
    }

    /// Copies into the partial `entry` (of a whole key) the rows it lacks from every finished
    /// shard file of its key, whatever their shard count, each verified as it is read. A
    /// shard file that fails inspection or verification is moved aside with a warning and
    /// its rows stay missing. Returns the shard files read and the warnings.
    private func mergeShards(into entry: CacheEntry, waiting: (String) -> Void) throws
        -> (files: [(key: FeatureKey, url: URL)], warnings: [String]) {
        guard !entry.isComplete, entry.key.shard == nil,
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return ([], []) }
        let prefix = entry.key.sha256 + ".shard-"
        let shards = names.compactMap { name -> ImageShard? in
            guard name.hasPrefix(prefix), name.hasSuffix(".h5") else { return nil }
            let parts = name.dropFirst(prefix.count).dropLast(3).components(separatedBy: "-of-")
            guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]),
                  count >= 1, (0..<count).contains(index) else { return nil }
            return ImageShard(index: index, count: count)
        }.sorted { ($0.count, $0.index) < ($1.count, $1.index) }
        var files = [(key: FeatureKey, url: URL)]()
        var warnings = [String]()
        for shard in shards {
            let missing = Set(entry.missingIDs)
            let ids = Self.ids(entry.imageIDs, in: shard)
            let key = entry.key.sharded(shard)
            guard !ids.isEmpty else { continue }
            guard ids.contains(where: missing.contains) else {
                files.append((key, url(for: key)))  // merged by an earlier, unfinished merge
                continue
            }
            let part = try CacheEntry(cache: self, key: key, imageIDs: ids, specHash: "", finishedOnly: true,
                                      waiting: waiting)
            defer { part.close() }
            warnings += part.warnings
            guard part.isComplete else { continue }
            do {
                let features = try Dictionary(uniqueKeysWithValues: key.taps.map { ($0, try part.read(tap: $0)) })
                let rows = ids.indices.filter { missing.contains(ids[$0]) }
                try entry.append(ids: rows.map { ids[$0] }, features: features.mapValues { tensor in
                    rows.count == ids.count ? tensor : Tensor.stack(rows.map(tensor.slice))
                })
                files.append((key, part.url))
            } catch EmbeddingCacheError.corrupt(let url, let reason) {
                warnings.append(try part.setAside(url, reason: reason))
            }
        }
        return (files, warnings)
    }

    /// Deletes merged shard files (each under its lock); one that cannot be deleted is left.
    private func removeMerged(_ files: [(key: FeatureKey, url: URL)]) {
        for file in files {
            guard let lock = try? FileLock(lockURL(for: file.key), waiting: { _ in }) else { continue }
            try? FileManager.default.removeItem(at: file.url)
            lock.release()
        }
    }
}

/// What `EmbeddingCache.features` returns.
public struct CachedFeatures {
    /// The features of every tap, row `i` for `imageIDs[i]`, read one image at a time.
    public var rows: CachedRows
    /// Problems found with existing files (each names the file and the reason).
    public var warnings: [String]
    /// Number of distinct images whose features this call extracted (each counted once,
    /// also when a bad file made it extract them again), at most the number of images.
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
    /// A file failed to read back or verify (its rows' checksums).
    case corrupt(URL, String)
    /// `append` got ids, taps or shapes that do not fit the entry.
    case mismatchedFeatures(URL, String)
    /// `finish` or `read` on an entry that still lacks rows.
    case incomplete(URL, missing: Int)
    /// Shards (and their expected files) that a merge found missing, unfinished or corrupt,
    /// with the warnings about the files found.
    case missingShards([ImageShard], files: [URL], warnings: [String])

    public var description: String {
        switch self {
        case .invalidKey(let reason): return "invalid cache key: \(reason)"
        case .unreadableImage(let url, let reason): return "\(url.path): cannot read image for its fingerprint: \(reason)"
        case .io(let url, let reason): return "\(url.path): \(reason)"
        case .corrupt(let url, let reason): return "\(url.path): corrupt cache file: \(reason)"
        case .mismatchedFeatures(let url, let reason): return "\(url.path): features do not fit the cache entry: \(reason)"
        case .incomplete(let url, let missing): return "\(url.path): \(missing) images still missing"
        case .missingShards(let shards, let files, let warnings):
            return "\(shards.count) shard file(s) missing, unfinished or corrupt: "
                + zip(shards, files).map { "shard \($0) (\($1.path))" }.joined(separator: ", ")
                + warnings.map { "; \($0)" }.joined()
        }
    }
}

/// One cache file: finished (read it) or partial (append the missing rows, then finish).
/// Holds the key's lock from `EmbeddingCache.entry` until `close()`.
public final class CacheEntry {
    public let key: FeatureKey
    /// Row order of every dataset in the file.
    public let imageIDs: [String]
    /// The finished file's URL (`<key sha256>.h5`).
    public let url: URL
    /// Where rows are written until the file is complete (`<key sha256>.h5.partial`).
    public let partialURL: URL
    /// Invalid files found (and moved aside or replaced) while opening, each naming the
    /// file and the reason.
    public private(set) var warnings: [String] = []

    private let rowOfID: [String: Int]
    /// 1 where row i is written for every tap.
    private var completed: [UInt8] = []
    /// Tap → CRC-32 of each row's float32 bytes (0 for rows not written yet).
    private var checksums: [String: [UInt32]] = [:]
    /// Per-image shape of each tap dataset already created.
    private var rowShapes: [String: [Int]] = [:]
    /// The open partial file, nil once finished.
    private var file: hid_t?
    /// The key's lock, nil once closed.
    private var lock: FileLock?

    /// `finishedOnly` opens a finished file or nothing (``isComplete`` false, no partial file
    /// created): how shard files are read for a merge.
    fileprivate init(cache: EmbeddingCache, key: FeatureKey, imageIDs: [String], specHash: String,
                     finishedOnly: Bool = false, waiting: (String) -> Void) throws {
        guard !imageIDs.isEmpty else { throw EmbeddingCacheError.invalidKey("no images") }
        if let shard = key.shard {
            guard imageIDs.count <= key.images.count, imageIDs.allSatisfy(shard.contains) else {
                throw EmbeddingCacheError.invalidKey("ids given are not shard \(shard) of the key's \(key.images.count) images")
            }
        } else {
            guard key.images.count == imageIDs.count else {
                throw EmbeddingCacheError.invalidKey("key fingerprints \(key.images.count) images, \(imageIDs.count) ids given")
            }
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
        let url = url
        do {
            lock = try FileLock(cache.lockURL(for: key)) { holder in
                waiting("waiting for PID \(holder.map(String.init) ?? "?"), which holds the embedding cache \(url.path)")
            }
        } catch let error as FileLockError {
            throw EmbeddingCacheError.io(URL(fileURLWithPath: error.path), error.reason)
        }
        do {
            try withHDF5 { try openOrCreate(specHash: specHash, finishedOnly: finishedOnly) }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Opens the finished file, else (unless `finishedOnly`) resumes the partial one, else
    /// starts a new partial file; files that fail inspection are moved aside (or, in an older
    /// format, replaced).
    private func openOrCreate(specHash: String, finishedOnly: Bool) throws {
        if FileManager.default.fileExists(atPath: url.path) {
            do {
                let state = try Self.inspect(url, key: key, imageIDs: imageIDs, writable: false)
                try closeFile(state.file)
                guard state.completed.allSatisfy({ $0 == 1 }) else {
                    throw HDF5Failure(description: "finished file lacks \(state.completed.filter { $0 != 1 }.count) rows")
                }
                (completed, checksums, rowShapes) = (state.completed, state.checksums, state.rowShapes)
                try removeStale(partialURL)
                return
            } catch let failure as HDF5Failure {
                try reject(url, failure)
            }
        }
        if finishedOnly {
            isAbsent = true
            return
        }
        if FileManager.default.fileExists(atPath: partialURL.path) {
            do {
                let state = try Self.inspect(partialURL, key: key, imageIDs: imageIDs, writable: true)
                (file, completed, checksums, rowShapes) = (state.file, state.completed, state.checksums, state.rowShapes)
                return
            } catch let failure as HDF5Failure {
                try reject(partialURL, failure)
            }
        }
        completed = [UInt8](repeating: 0, count: imageIDs.count)
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
            try createGroup(file, "checksums")
            try check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush")
        } catch let failure as HDF5Failure {
            throw EmbeddingCacheError.io(partialURL, failure.description)
        }
    }

    /// A file that failed inspection: one of an older format is deleted, anything else
    /// moved aside; either way a warning names it.
    private func reject(_ url: URL, _ failure: HDF5Failure) throws {
        if failure.isObsoleteFormat {
            do { try FileManager.default.removeItem(at: url) } catch {
                throw EmbeddingCacheError.io(url, "cannot replace a file of an older format: \(error.localizedDescription)")
            }
            warnings.append("\(url.path): \(failure.description); replaced, the features will be recomputed")
        } else {
            warnings.append(try setAside(url, reason: failure.description))
        }
    }

    /// Removes a leftover partial file beside a finished one (a folder there is moved aside).
    private func removeStale(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue {
            warnings.append(try setAside(url, reason: "a folder where a cache file belongs"))
        } else {
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// Whether every row is written and the file is in its final place.
    public var isComplete: Bool { file == nil && !isAbsent }
    /// Opened `finishedOnly` and no valid finished file was there.
    private var isAbsent = false

    /// Ids whose rows are not written yet, in row order.
    public var missingIDs: [String] {
        zip(imageIDs, completed).filter { $0.1 == 0 }.map(\.0)
    }

    /// Writes the rows of `ids`: `features[tap]` is `[ids.count, …]` for every tap of the
    /// key, the per-image shape the same on every call. Rows and their checksums are
    /// flushed to disk and then marked completed, so an interrupted run resumes after the
    /// last whole batch. Any failed HDF5 call (e.g. a full disk) throws `.io`.
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
                    var sums = checksums[tap] ?? [UInt32](repeating: 0, count: imageIDs.count)
                    let rowSize = rowShape.reduce(1, *)
                    try tensor.data.withUnsafeBufferPointer { data in
                        for (i, row) in rows.enumerated() {
                            let values = UnsafeBufferPointer(rebasing: data[i * rowSize ..< (i + 1) * rowSize])
                            try writeFloatRow(file, "features/\(tap)", index: row, row: values)
                            sums[row] = CRC32.checksum(UnsafeRawBufferPointer(values))
                        }
                    }
                    try writeUInt32s(file, "checksums/\(tap)", sums)
                    checksums[tap] = sums
                }
                try check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush")
                var marked = completed
                for row in rows { marked[row] = 1 }
                try writeBytes(file, "completed", marked)
                try check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush")
                completed = marked
            } catch let failure as HDF5Failure {
                throw EmbeddingCacheError.io(partialURL, failure.description)
            }
        }
    }

    /// Closes the partial file (a failed close is a failed write), reads every row back
    /// and checks it against its checksum, then renames the file to `url` (atomically
    /// replacing any file there). Throws `.corrupt` when a row does not verify.
    public func finish() throws {
        try withHDF5 {
            guard let file else { return }
            let missing = completed.filter { $0 == 0 }.count
            guard missing == 0 else { throw EmbeddingCacheError.incomplete(partialURL, missing: missing) }
            self.file = nil
            do {
                try closeFile(file)
            } catch let failure as HDF5Failure {
                throw EmbeddingCacheError.io(partialURL, failure.description)
            }
            try CachedRows(url: partialURL, imageIDs: imageIDs, rowShapes: rowShapes, checksums: checksums).verifyAll()
            guard rename(partialURL.path, url.path) == 0 else {
                throw EmbeddingCacheError.io(url, "cannot rename \(partialURL.lastPathComponent): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The finished file's rows, to read one image at a time, each verified against its
    /// checksum. Throws `.corrupt` when the file does not open or its checksums differ.
    public func rows() throws -> CachedRows {
        guard file == nil else { throw EmbeddingCacheError.incomplete(partialURL, missing: missingIDs.count) }
        return try CachedRows(url: url, imageIDs: imageIDs, rowShapes: rowShapes, checksums: checksums)
    }

    /// All rows of `tap`: `[N, …]` in `imageIDs` order, each verified against its
    /// checksum. Throws `.corrupt` when the finished file does not read back or verify.
    public func read(tap: String) throws -> Tensor {
        try rows().rows(imageIDs.indices, tap: tap)
    }

    /// Moves the invalid file (or folder) at `url`, one of this entry's, aside to
    /// `<name>.corrupt-<UTC time>` and returns the warning that says so. The entry must
    /// not be used afterwards, except to close it.
    public func setAside(_ url: URL, reason: String) throws -> String {
        withHDF5 {
            if let file { H5Fclose(file); self.file = nil }
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let aside = url.path + ".corrupt-" + formatter.string(from: Date())
        guard rename(url.path, aside) == 0 else {
            throw EmbeddingCacheError.io(url, "\(reason); cannot move it aside: \(String(cString: strerror(errno)))")
        }
        return "\(url.path): \(reason); moved aside to \(URL(fileURLWithPath: aside).lastPathComponent), "
            + "the features will be recomputed"
    }

    /// Closes the file (rows marked completed are already on disk) and releases the key's
    /// lock. Idempotent.
    public func close() {
        withHDF5 {
            if let file { H5Fclose(file); self.file = nil }
        }
        lock?.release()
        lock = nil
    }

    /// Opens `url` and checks it against the key and ids; returns the open file, the
    /// completed flags, the row checksums and the per-image shapes of the tap datasets present.
    private static func inspect(_ url: URL, key: FeatureKey, imageIDs: [String], writable: Bool) throws
        -> (file: hid_t, completed: [UInt8], checksums: [String: [UInt32]], rowShapes: [String: [Int]]) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw HDF5Failure(description: "a folder where a cache file belongs")
        }
        guard isHDF5(url.path) else { throw HDF5Failure(description: "not an HDF5 file (empty, truncated or overwritten)") }
        let file = try openFile(url.path, writable: writable)
        do {
            let format = try readStringAttribute(file, "format")
            guard format == EmbeddingCache.format else {
                throw HDF5Failure(description: "format \(format), expected \(EmbeddingCache.format)",
                                  isObsoleteFormat: format.hasPrefix("trawl-embeddings/"))
            }
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
            var checksums = [String: [UInt32]]()
            for tap in members {
                let info = try datasetInfo(file, "features/\(tap)")
                guard info.typeClass == H5T_FLOAT, info.typeSize == 4 else {
                    throw HDF5Failure(description: "features/\(tap) is not float32")
                }
                guard info.shape.count >= 2, info.shape[0] == imageIDs.count, info.shape.allSatisfy({ $0 > 0 }) else {
                    throw HDF5Failure(description: "features/\(tap) has shape \(info.shape), expected [\(imageIDs.count), …]")
                }
                let shapeAttribute = try using(try check(id: H5Dopen2(file, "features/\(tap)", trawl_h5p_default()),
                                                         "cannot open features/\(tap)"), H5Dclose, "features/\(tap)") {
                    try readInt64Attribute($0, "shape").map { Int($0) }
                }
                guard shapeAttribute == info.shape else {
                    throw HDF5Failure(description: "features/\(tap) disagrees with its shape attribute")
                }
                rowShapes[tap] = Array(info.shape.dropFirst())
                guard exists(file, "checksums"), exists(file, "checksums/\(tap)") else {
                    throw HDF5Failure(description: "features/\(tap) has no checksums/\(tap)")
                }
                let sums = try readUInt32s(file, "checksums/\(tap)")
                guard sums.count == imageIDs.count else {
                    throw HDF5Failure(description: "checksums/\(tap) has \(sums.count) entries, expected \(imageIDs.count)")
                }
                checksums[tap] = sums
            }
            if completed.contains(1), let absent = key.taps.first(where: { rowShapes[$0] == nil }) {
                throw HDF5Failure(description: "rows are marked completed but features/\(absent) is missing")
            }
            return (file, completed, checksums, rowShapes)
        } catch {
            H5Fclose(file)
            throw error
        }
    }
}
