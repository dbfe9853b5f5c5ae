import Dispatch
import Foundation
import Scorers
import Tensors

/// The features a run (or `trawl score`) reads, as one row numbering over its cache files:
/// the samples' rows, then the augmented copies' rows (PatchCore's `features.augment`).
/// Tap maps are read from the embedding cache an image at a time when asked for; only
/// the samples' global embeddings, one vector per image, are held in memory.
struct RunFeatures {
    let samples: ExtractedFeatures
    let augmented: ExtractedFeatures?
    /// `[samples.count, ΣC]`: every sample's global embedding, what the kNN, Mahalanobis,
    /// GMM and one-class SVM scorers, the classifier and the embedding map read.
    let embeddings: Tensor

    /// Reads the samples' global embeddings (one image at a time).
    init(samples: ExtractedFeatures, augmented: ExtractedFeatures? = nil) throws {
        self.samples = samples
        self.augmented = augmented
        embeddings = try samples.globalEmbeddings()
    }

    /// The taps of `rows` (sample rows, then augmented rows after `samples.count`), read
    /// from the cache in that order: `[rows.count, C, H, W]` each, in spec tap order.
    func taps(_ rows: some Collection<Int>) throws -> [Tensor] {
        var data = [[Float]](repeating: [], count: samples.taps.count)
        for row in rows {
            let tensors = row < samples.count ? try samples.taps(CollectionOfOne(row))
                : try augmented!.taps(CollectionOfOne(row - samples.count))
            for (tap, tensor) in tensors.enumerated() { data[tap] += tensor.data }
        }
        let rowShapes = try samples.readRows().rowShapes
        return zip(samples.taps, data).map { tap, values in
            Tensor(shape: [rows.count] + rowShapes[tap]!, data: values)
        }
    }

    /// Global embeddings of sample `rows`, `[rows.count, ΣC]`.
    func embeddings(_ rows: some Collection<Int>) -> Tensor {
        gatherRows(of: embeddings, rows)
    }

    /// PatchCore's patch features of `rows` (`[rows · cells, D]`, image-major, as
    /// `aggregator` gives them for a batch of these images), aggregated one image at a time,
    /// the images on every core (each into its own rows of the result: the same bits).
    func patchFeatures(_ rows: [Int], aggregator: PatchFeatureAggregator) throws -> Tensor {
        guard let firstRow = rows.first else { return Tensor(shape: [0, 1], data: []) }
        let first = try aggregator(try taps(CollectionOfOne(firstRow))).features
        let (perImage, dimension) = (first.count, first.shape[1])
        var data = [Float](repeating: 0, count: rows.count * perImage)
        // The error of the first failing image in `rows` order, whichever thread meets it first.
        var failure: (index: Int, error: Error)?
        let lock = NSLock()
        data.withUnsafeMutableBufferPointer { data in
            _ = UnsafeMutableBufferPointer(rebasing: data[0..<perImage]).initialize(from: first.data)
            DispatchQueue.concurrentPerform(iterations: rows.count - 1) { index in
                do {
                    let patches = try aggregator(try taps(CollectionOfOne(rows[index + 1]))).features
                    precondition(patches.count == perImage, "every image of one extraction has the same map size")
                    _ = UnsafeMutableBufferPointer(rebasing: data[(index + 1) * perImage ..< (index + 2) * perImage])
                        .initialize(from: patches.data)
                } catch {
                    lock.lock()
                    if failure.map({ index < $0.index }) ?? true { failure = (index, error) }
                    lock.unlock()
                }
            }
        }
        if let failure { throw failure.error }
        return Tensor(shape: [rows.count * perImage / dimension, dimension], data: data)
    }
}
