import Datasets
import Foundation
import SavedModels
import Scorers
import Tensors

/// What `trawl model add-normal` did.
public struct AddNormalSummary: Sendable {
    /// Images added, memory-bank rows before and after.
    public var images: Int
    public var bankBefore: Int
    public var bankAfter: Int
}

/// Adds normal images to a saved model without refitting from scratch
/// (`trawl model add-normal`), then rewrites the model file atomically.
///
/// - PatchCore: the new images' patch features are subsampled by the model's coreset (same
///   ratio, projection and seed, over the new patches only) and appended to the memory bank.
/// - kNN: the new image embeddings are appended to the training embeddings and the
///   leave-one-out training scores recomputed.
/// - Mahalanobis and GMM keep no training features, so they cannot be extended: re-run the
///   experiment with the images in its training set.
///
/// The new images' scores under the extended model join the training scores (0–1
/// normalisation); the threshold is kept.
public struct AddNormal {
    public let modelFile: URL
    public let options: RunOptions
    public var log: (String) -> Void = { print($0) }

    public init(modelFile: URL, options: RunOptions) {
        self.modelFile = modelFile
        self.options = options
    }

    public func add(_ images: Dataset) throws -> AddNormalSummary {
        let loaded = try LoadedModel(modelFile, options: options)
        var model = loaded.model
        if case .mahalanobis = model.scorer { throw cannotExtend("Mahalanobis") }
        if case .gmm = model.scorer { throw cannotExtend("GMM") }
        if case .ocsvm = model.scorer {
            throw RunError("\(modelFile.path): a one-class SVM cannot take new images without refitting (its support "
                           + "vectors and ρ come from solving the dual over every training image); re-run its experiment "
                           + "with the images in the training set")
        }
        let samples = images.samples
        guard !samples.isEmpty else { throw RunError("no images to add") }
        log("adding \(samples.count) normal images to \(modelFile.path)"
            + images.exclusions.map { "\n  excluded: \($0)" }.joined())
        let (features, mapSize, line, warnings) = try loaded.features(of: samples, options: options, log: log)
        warnings.forEach { log("warning: \($0)") }
        log(line)

        let before = model.scorer.bankSize ?? 0
        switch model.scorer {
        case .patchcore(var scorer):
            let patches = try features.patchFeatures(Array(samples.indices), aggregator: model.aggregator)
            let selected = try scorer.coreset.map { gatherRows(of: patches, try $0.select(from: patches)) } ?? patches
            try scorer.restore(bank: stacked(scorer.index!.bank, selected))
            model.scorer = .patchcore(scorer)
        case .knn(var scorer):
            try scorer.fit(stacked(scorer.index!.bank, features.embeddings))
            model.scorer = .knn(scorer)
        case .mahalanobis, .gmm, .ocsvm:
            preconditionFailure("refused above")
        }
        if case .knn(let scorer) = model.scorer {
            model.trainingScores = scorer.scaledTrainingScores.map(Double.init)
        } else {
            model.trainingScores += try scoreImages(Array(samples.indices), with: model.scorer, features: features,
                                                    mapHeight: mapSize.height, mapWidth: mapSize.width, keepMaps: false,
                                                    progress: nil) { _ in }
        }
        // The normalisation's range grows to cover the new training scores.
        model.scoreRange = min(model.scoreRange.lowerBound, model.trainingScores.min()!)
            ... max(model.scoreRange.upperBound, model.trainingScores.max()!)
        try model.write(to: modelFile)
        let after = model.scorer.bankSize ?? 0
        log("memory bank: \(before) → \(after) rows; threshold kept at \(model.threshold.value); wrote \(modelFile.path)")
        return AddNormalSummary(images: samples.count, bankBefore: before, bankAfter: after)
    }

    private func cannotExtend(_ kind: String) -> RunError {
        RunError("\(modelFile.path): a \(kind) model keeps no training features, so images cannot be added to it; "
                 + "re-run its experiment with the images in the training set")
    }
}

/// Rows of `a` then rows of `b` (`[M, D]` and `[N, D]` → `[M + N, D]`).
private func stacked(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    guard a.shape[1] == b.shape[1] else {
        throw RunError("new features have dimension \(b.shape[1]); the model's bank has \(a.shape[1])")
    }
    return Tensor(shape: [a.shape[0] + b.shape[0], a.shape[1]], data: a.data + b.data)
}
