#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Checksums
import Foundation
import Scorers
import Tensors

/// Saved PatchCore coreset selections: `<embedding cache>/coresets/<key sha256>.json`.
///
/// Greedy coreset selection is a deterministic function of the training patch features and
/// the sampler's settings, and its most expensive step; a run whose ``Key`` matches a saved
/// file builds the memory bank from the saved rows instead (bit-identical scores). A file
/// that does not parse or does not match (key, bank size, row count, rows out of range or
/// repeated, the SHA-256 of its selection or of the bank it was selected from) is
/// reported, deleted and recomputed — never trusted.
struct CoresetCache {
    /// Bump when the selection algorithm or the file's meaning changes.
    static let formatVersion = 2

    /// The folder of the `.json` files.
    let directory: URL

    /// Everything that determines a selection.
    struct Key: Codable, Equatable {
        var formatVersion: Int
        /// The embedding cache's ``FeatureKey`` (images by content, backbone, weights, taps, preprocessing).
        var featureKeySHA256: String
        /// The training images, in row order: their count and the SHA-256 over `id<LF>` per image.
        var trainImages: Int
        var trainImageIDsSHA256: String
        /// Backbone taps in aggregation order.
        var taps: [String]
        /// ``PatchFeatureAggregator`` settings.
        var pooling: Int
        var pretrainDimension: Int?
        var targetDimension: Int?
        /// ``CoresetSampler`` settings; `size` as `fraction:<shortest exact decimal>` or `count:<n>`.
        var size: String
        var start: String
        var projectionDimension: Int
        /// Decimal, so that JSON readers without 64-bit integers keep it exact.
        var seed: String
        /// `scorer.coreset_shards` and the first round's oversampling; nil (absent, the keys of
        /// single-pass selections unchanged) for one shard.
        var shards: Int?
        var shardOversampling: Int?

        init(featureKeySHA256: String, trainImageIDs: [String], taps: [String],
             aggregator: PatchFeatureAggregator, sampler: CoresetSampler, shards: Int = 1) {
            formatVersion = CoresetCache.formatVersion
            self.featureKeySHA256 = featureKeySHA256
            trainImages = trainImageIDs.count
            var hasher = SHA256()
            for id in trainImageIDs { hasher.update(Array((id + "\n").utf8)) }
            trainImageIDsSHA256 = hasher.finalize().hex
            self.taps = taps
            pooling = aggregator.patchSize
            pretrainDimension = aggregator.pretrainDimension
            targetDimension = aggregator.targetDimension
            switch sampler.size {
            case .fraction(let fraction): size = "fraction:\(fraction)"
            case .count(let count): size = "count:\(count)"
            }
            switch sampler.start {
            case .referenceMean(let points): start = "reference_mean:\(points)"
            case .randomPoint: start = "random_point"
            }
            projectionDimension = sampler.projectionDimension
            seed = String(sampler.seed)
            if shards > 1 {
                self.shards = shards
                shardOversampling = CoresetSampler.shardOversampling
            }
        }

        /// Compact JSON with sorted keys.
        var canonicalJSON: Data {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            // Strings and integers only: encoding cannot fail.
            return try! encoder.encode(self)
        }

        /// Lowercase hex SHA-256 of ``canonicalJSON``: the file's name.
        var sha256: String { SHA256.hash(canonicalJSON).hex }
    }

    /// A file's content.
    struct Entry: Codable {
        var key: Key
        /// Rows of the full training bank (`M` of `[M, D]`).
        var bankRows: Int
        /// Selected rows of the bank, in selection order.
        var selectedRows: [Int]
        /// SHA-256 of `selectedRows` as little-endian Int64s: an edited selection is caught.
        var selectionSHA256: String
        /// SHA-256 of the bank's float32 elements (little-endian), `[M, D]` row-major: the
        /// selection is only reused for the very features it was selected from.
        var bankSHA256: String

        init(key: Key, bank: Tensor, selectedRows: [Int]) {
            self.key = key
            bankRows = bank.shape[0]
            self.selectedRows = selectedRows
            selectionSHA256 = Self.sha256(of: selectedRows)
            bankSHA256 = Self.sha256(of: bank)
        }

        static func sha256(of rows: [Int]) -> String {
            SHA256.hash(rows.flatMap { row in withUnsafeBytes(of: Int64(row).littleEndian, Array.init) }).hex
        }

        static func sha256(of bank: Tensor) -> String {
            var hasher = SHA256()
            bank.data.withUnsafeBytes { hasher.update($0) }  // float32 is little-endian on supported platforms
            return hasher.finalize().hex
        }
    }

    /// What fitting through the cache did.
    struct Outcome {
        var file: URL
        var hit: Bool
        /// Problems with the saved file (each names it).
        var warnings: [String]
    }

    func url(for key: Key) -> URL { directory.appendingPathComponent(key.sha256 + ".json") }

    /// Fits `scorer` (which has a coreset) on `bank` (`[M, D]`), from the saved selection of
    /// `key` when there is a valid one; otherwise selects (in the two-round sharded scheme
    /// over `shards`, rows of `bank`, when given) and saves the selection.
    func fit(_ scorer: inout PatchCoreScorer, bank: Tensor, key: Key, shards: [[Int]]? = nil) throws -> Outcome {
        let file = url(for: key)
        var warnings = [String]()
        if FileManager.default.fileExists(atPath: file.path) {
            do {
                let entry = try JSONDecoder().decode(Entry.self, from: Data(contentsOf: file))
                guard entry.key == key else { throw RunError("its key does not match its name") }
                guard entry.bankRows == bank.shape[0] else {
                    throw RunError("it selects from \(entry.bankRows) rows, the bank has \(bank.shape[0])")
                }
                guard Entry.sha256(of: entry.selectedRows) == entry.selectionSHA256 else {
                    throw RunError("its selected rows do not match their SHA-256 (edited or damaged)")
                }
                guard Entry.sha256(of: bank) == entry.bankSHA256 else {
                    throw RunError("it was selected from other features than this bank's (bank SHA-256 differs)")
                }
                try scorer.fit(bank: bank, selectedRows: entry.selectedRows)
                return Outcome(file: file, hit: true, warnings: [])
            } catch {
                warnings.append("coreset cache \(file.path): \(error); deleted and recomputed")
                try? FileManager.default.removeItem(at: file)
            }
        }
        let selected: [Int]
        if let shards, let sampler = scorer.coreset {
            selected = try sampler.select(from: bank, shards: shards)
            try scorer.fit(bank: bank, selectedRows: selected)
        } else {
            selected = try scorer.fit(bank: bank) ?? []
        }
        do {
            try save(Entry(key: key, bank: bank, selectedRows: selected), to: file)
        } catch {
            warnings.append("coreset cache \(file.path): not saved: \(error)")
        }
        return Outcome(file: file, hit: false, warnings: warnings)
    }

    /// Writes `entry` to a temporary file beside `file`, then renames it.
    private func save(_ entry: Entry, to file: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let temporary = directory.appendingPathComponent(
            ".\(file.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).partial")
        try encoder.encode(entry).write(to: temporary)
        if rename(temporary.path, file.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw RunError("cannot rename \(temporary.path) to \(file.path): \(reason)")
        }
    }
}
