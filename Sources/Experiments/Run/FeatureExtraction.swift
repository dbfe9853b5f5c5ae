import Backbones
import Datasets
import Dispatch
import EmbeddingCache
import Foundation
import Tensors

/// Backbone feature maps of every sample, read from the embedding cache or computed (and
/// cached) for the images it lacks.
struct ExtractedFeatures {
    /// Tap name (as the spec writes it) → `[N, C, H, W]`, rows in `samples` order.
    var taps: [String: Tensor]
    /// Images read from the cache / computed now.
    var hits: Int
    var misses: Int
    /// The cache file.
    var file: URL
    /// The cache key of the features (coreset cache keys build on it).
    var key: FeatureKey
    /// Problems with earlier cache files (each names the file).
    var warnings: [String]
}

/// Computes or loads the features of `samples` for `spec`'s backbone and taps. `log`
/// receives the line saying so when another process holds the cache entry and this one waits.
func extractFeatures(of samples: [Sample], backbone: Backbone, backboneSpec: BackboneSpec,
                     weightsSHA256: String, pipeline: InputPipeline, cache: EmbeddingCache,
                     specHash: String, toolVersion: String, showsProgress: Bool,
                     log: (String) -> Void) throws -> ExtractedFeatures {
    let digests = try samples.map { ($0.id, try contentSHA256($0)) }
    let key = FeatureKey(images: ImageSetFingerprint(digests.map { (id: $0.0, contentSHA256: $0.1) }),
                         backbone: backbone.name, weightsSHA256: weightsSHA256, taps: backboneSpec.taps,
                         pooling: nil, preprocessing: pipeline.cacheDescription, toolVersion: toolVersion)
    let ids = samples.map(\.id)
    let byID = Dictionary(uniqueKeysWithValues: samples.map { ($0.id, $0) })
    // How many images the cache lacks, for the progress bar (the entry and its lock are
    // released again before `features` reopens it); files it moved aside are reported
    // with the warnings of `features`.
    var waited = false
    func waiting(_ line: String) {
        if !waited { log(line) }
        waited = true
    }
    let preview = try cache.entry(for: key, imageIDs: ids, specHash: specHash, waiting: waiting)
    let missing = preview.missingIDs.count
    let previewWarnings = preview.warnings
    preview.close()
    let progress = showsProgress && missing > 0 ? ProgressReporter("features (\(backbone.name))", total: missing) : nil
    let batchSize = 2 * max(1, ProcessInfo.processInfo.activeProcessorCount)
    let cached = try cache.features(for: key, imageIDs: ids, specHash: specHash, batchSize: batchSize,
                                    waiting: waiting) { batch in
        let inputs = try decodeInParallel(batch.map { byID[$0]! }, pipeline: pipeline)
        let outputs = try backbone.features(Tensor.stack(inputs), taps: backboneSpec.taps)
        progress?.advance(by: batch.count)
        return Dictionary(uniqueKeysWithValues: zip(backboneSpec.taps, outputs))
    }
    progress?.finish()
    return ExtractedFeatures(taps: cached.features, hits: samples.count - cached.computedCount,
                             misses: cached.computedCount, file: cache.url(for: key), key: key,
                             warnings: previewWarnings + cached.warnings)
}

/// Network inputs of `samples`, decoded and preprocessed on every core (no BLAS involved).
private func decodeInParallel(_ samples: [Sample], pipeline: InputPipeline) throws -> [Tensor] {
    var results = [Result<Tensor, Error>?](repeating: nil, count: samples.count)
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: samples.count) { i in
        let result = Result { try pipeline.input(samples[i]) }
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
