import Backbones
import Datasets
import Dispatch
import EmbeddingCache
import Foundation
import Scorers
import Tensors

/// The cache dataset that holds, beside a tiled image's stitched taps, its global embedding
/// `[ΣC]`: the mean of its tiles' global-average-pooled taps (no backbone tap has this name).
let tileMeanEmbeddingTap = "tile_mean_embedding"

/// Backbone feature maps of every item, in the embedding cache (computed and cached for the
/// images it lacks), read from there one image at a time.
struct ExtractedFeatures {
    /// The cache file's rows, in `items` order: every tap `[C, H, W]` per image, and with
    /// tiling `tileMeanEmbeddingTap` `[ΣC]`; nil only for an extraction shard that had nothing
    /// to extract (its images are in the key's finished file, or it has none).
    var rows: CachedRows?
    /// The backbone taps, in spec order.
    var taps: [String]
    /// Whether the rows are of tiled images (and hold `tileMeanEmbeddingTap`).
    var isTiled: Bool
    /// Images read from the cache / computed now.
    var hits: Int
    var misses: Int
    /// The cache file.
    var file: URL
    /// The cache key of the features (coreset cache keys build on it).
    var key: FeatureKey
    /// Problems with earlier cache files (each names the file).
    var warnings: [String]

    /// Number of images (rows).
    var count: Int { rows?.imageIDs.count ?? 0 }

    /// The rows, which every run has (only `trawl extract --shard` may find none to read).
    func readRows() throws -> CachedRows {
        guard let rows else { throw RunError("\(file.path): no features were read (an extraction shard with nothing to do)") }
        return rows
    }

    /// The taps of rows `indices`, in spec tap order: `[indices.count, C, H, W]` each.
    func taps(_ indices: some Collection<Int>) throws -> [Tensor] {
        try taps.map { try readRows().rows(indices, tap: $0) }
    }

    /// Every image's global embedding, `[N, ΣC]` (taps in spec order), read one image at a
    /// time: the global average pool of its taps, or with tiling the mean of its tiles'
    /// global embeddings (each tile pooled as an untiled image of the tile's size would be).
    func globalEmbeddings() throws -> Tensor {
        if isTiled { return try readRows().rows(0..<count, tap: tileMeanEmbeddingTap) }
        var data = [Float]()
        for row in 0..<count { data += try globalAveragePool(try taps(CollectionOfOne(row))).data }
        return Tensor(shape: [count, data.count / count], data: data)
    }
}

/// One network input to extract: a sample's image, or a transformed copy of it.
struct ExtractionItem {
    var sample: Sample
    var augmentation: Augmentation?

    /// The sample id, with `#<augmentation>` appended for a copy (`train/good/000.png#hflip`):
    /// the row's name in the cache, so the cache key records the augmentation.
    var id: String { augmentation.map { "\(sample.id)#\($0.rawValue)" } ?? sample.id }
}

/// Computes or loads the features of `items` for `spec`'s backbone and taps. With tiling
/// (never with augmented items: the spec decoder rejects `features.augment` with tiling),
/// every image must have the size `mapSize` (the scaled image size) after scaling; each
/// image's tiles form one backbone batch and its taps come back stitched,
/// `[1, C, ⌈H / stride⌉, ⌈W / stride⌉]`. `log` receives the line saying so when another
/// process holds the cache entry and this one waits.
///
/// With `shard` (`trawl extract --shard`), only the items of that shard are extracted, into
/// the shard's own cache file, and `taps` holds their rows (none when the whole key's file
/// is already finished: nothing is left to do). Without, finished shard files of the key
/// are merged into its file and their images count as cache hits; with `mergingShards` N,
/// the key's file must be finished or all N shard files present (an error names the
/// missing or corrupt ones), so nothing is extracted.
func extractFeatures(of items: [ExtractionItem], backbone: Backbone, backboneSpec: BackboneSpec,
                     weightsSHA256: String, pipeline: InputPipeline, mapSize: (height: Int, width: Int),
                     cache: EmbeddingCache, specHash: String, toolVersion: String, shard: ImageShard? = nil,
                     mergingShards: Int? = nil, showsProgress: Bool, log: (String) -> Void) throws -> ExtractedFeatures {
    let digests = try items.map { ($0.id, try contentSHA256($0.sample)) }
    let wholeKey = FeatureKey(images: ImageSetFingerprint(digests.map { (id: $0.0, contentSHA256: $0.1) }),
                              backbone: backbone.name, weightsSHA256: weightsSHA256,
                              taps: backboneSpec.taps + (pipeline.tiling == nil ? [] : [tileMeanEmbeddingTap]),
                              pooling: nil, preprocessing: pipeline.cacheDescription, toolVersion: toolVersion)
    let key = shard.map(wholeKey.sharded) ?? wholeKey
    let ids = shard.map { EmbeddingCache.ids(items.map(\.id), in: $0) } ?? items.map(\.id)
    if shard != nil && (ids.isEmpty || FileManager.default.fileExists(atPath: cache.url(for: wholeKey).path)) {
        return ExtractedFeatures(rows: nil, taps: backboneSpec.taps, isTiled: pipeline.tiling != nil, hits: ids.count,
                                 misses: 0, file: cache.url(for: wholeKey), key: wholeKey, warnings: [])
    }
    let byID = Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0) })
    // How many images the cache lacks, for the progress bar (the entry and its lock are
    // released again before `features` reopens it); files it moved aside are reported
    // with the warnings of `features`.
    var waited = false
    func waiting(_ line: String) {
        if !waited { log(line) }
        waited = true
    }
    let mergeWarnings = try mergingShards.map {
        try cache.mergeShards(for: key, imageIDs: ids, count: $0, specHash: specHash, waiting: waiting)
    } ?? []
    let preview = try cache.entry(for: key, imageIDs: ids, specHash: specHash, waiting: waiting)
    let missing = preview.missingIDs.count
    let previewWarnings = mergeWarnings + preview.warnings
    preview.close()
    let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
    let progress: ProgressReporter?
    let batchSize: Int
    let extract: ([String]) throws -> [String: Tensor]
    if let tiling = pipeline.tiling {
        // Whole images are decoded `cores` at a time; each image's tiles are one backbone batch.
        let tilesPerImage = tiling.tileCount(width: mapSize.width, height: mapSize.height)
        progress = showsProgress && missing > 0
            ? ProgressReporter("tiled features (\(backbone.name), \(tilesPerImage) tiles per image)",
                               total: missing * tilesPerImage, unit: "tiles") : nil
        batchSize = cores
        extract = { batch in
            let inputs = try decodeInParallel(batch.map { byID[$0]! }, pipeline: pipeline)
            var stitched = [TiledFeatures]()
            for (id, input) in zip(batch, inputs) {
                guard (input.shape[1], input.shape[2]) == (mapSize.height, mapSize.width) else {
                    throw RunError("\(id): \(input.shape[2])×\(input.shape[1]) px after scaling; every image of a "
                                   + "tiled dataset must have the first image's size, \(mapSize.width)×\(mapSize.height) px")
                }
                stitched.append(try backbone.features(tiled: input, tiling: tiling, taps: backboneSpec.taps))
                progress?.advance(by: tilesPerImage)
            }
            var features = Dictionary(uniqueKeysWithValues: backboneSpec.taps.indices.map { tap in
                (backboneSpec.taps[tap], Tensor.stack(stitched.map { $0.maps[tap].reshaped(Array($0.maps[tap].shape.dropFirst())) }))
            })
            features[tileMeanEmbeddingTap] = Tensor.stack(stitched.map { $0.tileMeanEmbedding.reshaped([$0.tileMeanEmbedding.count]) })
            return features
        }
    } else {
        progress = showsProgress && missing > 0 ? ProgressReporter("features (\(backbone.name))", total: missing) : nil
        batchSize = 2 * cores
        extract = { batch in
            let inputs = try decodeInParallel(batch.map { byID[$0]! }, pipeline: pipeline)
            let outputs = try backbone.features(Tensor.stack(inputs), taps: backboneSpec.taps)
            progress?.advance(by: batch.count)
            return Dictionary(uniqueKeysWithValues: zip(backboneSpec.taps, outputs))
        }
    }
    let cached = try cache.features(for: key, imageIDs: ids, specHash: specHash, batchSize: batchSize,
                                    waiting: waiting, extract: extract)
    progress?.finish()
    return ExtractedFeatures(rows: cached.rows, taps: backboneSpec.taps, isTiled: pipeline.tiling != nil, hits: ids.count - cached.computedCount,
                             misses: cached.computedCount, file: cache.url(for: key), key: key,
                             warnings: previewWarnings + cached.warnings)
}

/// Network inputs of `items`, decoded and preprocessed on every core (no BLAS involved).
private func decodeInParallel(_ items: [ExtractionItem], pipeline: InputPipeline) throws -> [Tensor] {
    var results = [Result<Tensor, Error>?](repeating: nil, count: items.count)
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: items.count) { i in
        let result = Result { try pipeline.input(items[i].sample, augmentation: items[i].augmentation) }
        lock.lock()
        results[i] = result
        lock.unlock()
    }
    return try results.map { try $0!.get() }
}

/// Rows `indices` of the first axis of `tensor`, in that order.
func gatherRows(of tensor: Tensor, _ indices: some Collection<Int>) -> Tensor {
    let rowLength = tensor.count / tensor.shape[0]
    var data = [Float]()
    data.reserveCapacity(indices.count * rowLength)
    tensor.data.withUnsafeBufferPointer { source in
        for index in indices {
            data.append(contentsOf: source[(index * rowLength)..<((index + 1) * rowLength)])
        }
    }
    return Tensor(shape: [indices.count] + tensor.shape.dropFirst(), data: data)
}
