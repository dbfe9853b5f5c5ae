import CHDF5
import Foundation
import HDF5
import Scorers
import Tensors

/// A fitted anomaly model as `Results/NAME/model.h5` holds it: everything `trawl score` needs
/// to score new images the way the run scored its test images, without labels or refitting.
///
/// File layout (HDF5, readable with h5py; `format_version` 2 — 1 lacked kNN's `aggregate` and
/// `scale`, and is refused):
///
///     /                  attrs format_version (int64), trawl_version, experiment, grid_point (int64),
///                              grid_parameters (JSON object of the swept values)
///     /backbone          attrs name, weights_sha256, weights_path,
///                              spec (JSON: the experiment's backbone object — taps, resize, input size,
///                              and any other preprocessing such as tiling)
///     /features          attrs pooling, pretrain_dim, target_dim (int64; −1 = none)
///     /scorer            attrs kind (patchcore | knn | mahalanobis | gmm) and its parameters
///       patchcore: attrs neighbours, metric, reweighting_neighbours (−1 = none), blur_sigma,
///                  coreset_ratio (1 = none), coreset_projection_dim, coreset_seed;
///                  bank float32 [M, D] (the memory bank)
///       knn:       attrs k, metric, aggregate (mean | kth), scale (int64 0 | 1: min–max scaled by
///                  loo_scores); bank float32 [N, D] (L2-normalised for kth), loo_scores float32 [N]
///                  (unscaled)
///       mahalanobis: attrs estimator, ridge; mean float64 [D], whitening float32 [D, D] (L⁻¹ of Σ = LLᵀ),
///                  attr shrinkage
///       gmm:       attrs covariance (full | diagonal), regularization; weights float64 [K],
///                  means float64 [K, D], whitenings float32 [K, D·D or D], log_determinants float64 [K]
///     /threshold         attrs rule (f1_max | train_percentile | fixed), percentile (train_percentile), value
///     /training_scores   float64 [N]: the training images' scores (for 0–1 normalisation)
public struct SavedModel: Sendable {
    /// The layout version this Trawl writes and reads.
    public static let formatVersion: Int64 = 2

    /// The backbone whose features the scorer was fitted on.
    public struct Backbone: Equatable, Sendable {
        public var name: String
        /// SHA-256 (hex) of the weights file; scoring refuses other weights.
        public var weightsSHA256: String
        /// Where the weights were when the model was saved.
        public var weightsPath: String
        /// The experiment's backbone settings as JSON (taps, preprocessing, tiling).
        public var specJSON: String

        public init(name: String, weightsSHA256: String, weightsPath: String, specJSON: String) {
            self.name = name
            self.weightsSHA256 = weightsSHA256
            self.weightsPath = weightsPath
            self.specJSON = specJSON
        }
    }

    /// The PASS/FAIL threshold in score units and the rule that chose it.
    public struct Threshold: Equatable, Sendable {
        /// `f1_max`, `train_percentile` or `fixed`.
        public var rule: String
        /// The percentile (0–100) of `train_percentile`; nil otherwise.
        public var percentile: Double?
        public var value: Double

        public init(rule: String, percentile: Double? = nil, value: Double) {
            self.rule = rule
            self.percentile = percentile
            self.value = value
        }
    }

    /// The Trawl version that wrote the file.
    public var trawlVersion: String
    /// The experiment and grid point the model comes from, and that point's swept values.
    public var experiment: String
    public var gridPoint: Int
    public var gridParameters: [String: String]
    public var backbone: Backbone
    /// How backbone taps become features (the image-level scorers pool them globally).
    public var aggregator: PatchFeatureAggregator
    public var scorer: FittedScorer
    public var threshold: Threshold
    /// Scores of the normal training images, in the scorer's units (kNN: leave-one-out).
    public var trainingScores: [Double]

    public init(trawlVersion: String, experiment: String, gridPoint: Int, gridParameters: [String: String],
                backbone: Backbone, aggregator: PatchFeatureAggregator, scorer: FittedScorer, threshold: Threshold,
                trainingScores: [Double]) {
        self.trawlVersion = trawlVersion
        self.experiment = experiment
        self.gridPoint = gridPoint
        self.gridParameters = gridParameters
        self.backbone = backbone
        self.aggregator = aggregator
        self.scorer = scorer
        self.threshold = threshold
        self.trainingScores = trainingScores
    }

    /// `score` on a 0–1 scale: the share of training scores at or below it (its
    /// percentile rank among the normal training images; 1 = above all of them).
    public func normalisedScore(_ score: Double) -> Double {
        guard !trainingScores.isEmpty else { return .nan }
        return Double(trainingScores.lazy.filter { $0 <= score }.count) / Double(trainingScores.count)
    }
}

/// Why a model file could not be read or written: names the file.
public struct SavedModelError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var reason: String

    public init(file: URL, _ reason: String) {
        self.file = file.path
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
