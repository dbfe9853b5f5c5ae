import Backbones
import Checksums
import Datasets
import EmbeddingCache
import Foundation
import SavedModels
import Tensors

/// A saved model with its backbone loaded and checked: what `trawl score` and
/// `trawl model add-normal` apply to new images.
struct LoadedModel {
    let file: URL
    let model: SavedModel
    /// The backbone settings the model was fitted with (taps, preprocessing).
    let backboneSpec: BackboneSpec
    let backbone: Backbone
    let pipeline: InputPipeline

    /// Reads `file` and loads its backbone from the weights the model records (their saved
    /// path, else the registry's default file under `options.assetsDirectory`); refuses
    /// weights whose SHA-256 differs from the model's, naming both.
    init(_ file: URL, options: RunOptions) throws {
        self.file = file
        model = try SavedModel(contentsOf: file)
        backboneSpec = try BackboneSpec(specJSON: model.backbone.specJSON, file: file.path)
        let descriptor = try BackboneRegistry.descriptor(named: backboneSpec.name, assets: options.assetsDirectory)
        let candidates = [URL(fileURLWithPath: model.backbone.weightsPath), descriptor.weightsFile].compactMap { $0 }
        guard let weights = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw RunError("\(file.path): the model's \(backboneSpec.name) weights (SHA-256 \(model.backbone.weightsSHA256)) "
                           + "are missing: none of " + candidates.map(\.path).joined(separator: ", ")
                           + " exists (`make setup` installs the registry's weights)")
        }
        let found = try SHA256.hexDigest(ofFileAt: weights)
        guard found == model.backbone.weightsSHA256 else {
            throw RunError("\(file.path): backbone weights differ: the model was fitted with \(backboneSpec.name) weights "
                           + "SHA-256 \(model.backbone.weightsSHA256) (\(model.backbone.weightsPath)), "
                           + "but \(weights.path) has SHA-256 \(found)")
        }
        backbone = try descriptor.load(weights: weights)
        pipeline = InputPipeline(backboneSpec, backbone: backbone)
    }

    /// The features of `samples` (rows in sample order, read from the cache an image at a
    /// time) and the anomaly maps' size (the input, or with tiling the image's scaled size), through the
    /// embedding cache (waits on its lock are reported to `log`), and a line saying how many
    /// came from it.
    func features(of samples: [Sample], options: RunOptions,
                  log: (String) -> Void) throws -> (features: RunFeatures, mapSize: (height: Int, width: Int), line: String,
                                                    warnings: [String]) {
        let mapSize = try pipeline.mapSize(samples[0])
        let extracted = try extractFeatures(
            of: samples.map { ExtractionItem(sample: $0) }, backbone: backbone, backboneSpec: backboneSpec, weightsSHA256: model.backbone.weightsSHA256,
            pipeline: pipeline, mapSize: mapSize, cache: EmbeddingCache(directory: options.cacheDirectory),
            specHash: try SHA256.hexDigest(ofFileAt: file), toolVersion: options.toolVersion,
            showsProgress: options.showsProgress, log: log)
        return (try RunFeatures(samples: extracted), mapSize,
                "features: \(extracted.hits) images from the cache, \(extracted.misses) computed (\(extracted.file.path))",
                extracted.warnings)
    }
}
