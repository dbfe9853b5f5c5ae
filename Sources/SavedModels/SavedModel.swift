import CHDF5
import Foundation
import HDF5
import Scorers
import Tensors

/// A fitted anomaly model as `Results/NAME/model.h5` holds it: everything `trawl score` needs
/// to score new images the way the run scored its test images, without labels or refitting.
///
/// File layout (HDF5, readable with h5py; `format_version` 4 — 3 lacked PatchCore's
/// `map_normalization` and `map_max_filter` and is read with raw maps; 2 lacked `/normalisation`
/// and one-class SVMs, 1 kNN's `aggregate` and `scale`; versions before 3, and newer ones, are refused):
///
///     /                  attrs format_version (int64), trawl_version, experiment, grid_point (int64),
///                              grid_parameters (JSON object of the swept values)
///     /backbone          attrs name, weights_sha256, weights_path,
///                              spec (JSON: the experiment's backbone object — taps, resize, input size,
///                              and any other preprocessing such as tiling)
///     /features          attrs pooling, pretrain_dim, target_dim (int64; −1 = none)
///     /scorer            attrs kind (patchcore | knn | mahalanobis | gmm | ocsvm) and its parameters
///       patchcore: attrs neighbours, metric, reweighting_neighbours (−1 = none), blur_sigma,
///                  map_normalization (none | image_median), map_max_filter (int64; 1 = none),
///                  coreset_ratio (1 = none),
///                  coreset_projection_dim, coreset_seed;
///                  bank float32 [M, D] (the memory bank)
///       knn:       attrs k, metric, aggregate (mean | kth), scale (int64 0 | 1: min–max scaled by
///                  loo_scores); bank float32 [N, D] (L2-normalised for kth), loo_scores float32 [N]
///                  (unscaled)
///       mahalanobis: attrs estimator, ridge; mean float64 [D], whitening float32 [D, D] (L⁻¹ of Σ = LLᵀ),
///                  attr shrinkage
///       gmm:       attrs covariance (full | diagonal), regularization; weights float64 [K],
///                  means float64 [K, D], whitenings float32 [K, D·D or D], log_determinants float64 [K]
///       ocsvm:     attrs kernel (rbf), nu, gamma_rule (scale | value), gamma (the γ used), tolerance, rho;
///                  dual_coefficients float64 [S], support_vectors float32 [S, D] (minus training_mean),
///                  training_mean float64 [D]
///     /threshold         attrs rule (f1_max | train_percentile | fixed), percentile (train_percentile), value
///     /normalisation     attrs min, max: the lowest and highest score of the images the run scored at
///                              this grid point (training and test), for ``normalisedScore(_:)``
///     /training_scores   float64 [N]: the training images' scores
public struct SavedModel: Sendable {
    /// The layout version this Trawl writes.
    public static let formatVersion: Int64 = 4
    /// The versions this Trawl reads: 3 is 4 without PatchCore's map options (raw maps). A
    /// Trawl that reads only 3 refuses a version-4 file rather than drawing its maps unfiltered.
    public static let readableVersions: ClosedRange<Int64> = 3...4

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
    /// The lowest and highest score the run saw (training and test images of the grid
    /// point), in score units: the span of ``normalisedScore(_:)``.
    public var scoreRange: ClosedRange<Double>

    public init(trawlVersion: String, experiment: String, gridPoint: Int, gridParameters: [String: String],
                backbone: Backbone, aggregator: PatchFeatureAggregator, scorer: FittedScorer, threshold: Threshold,
                trainingScores: [Double], scoreRange: ClosedRange<Double>) {
        self.trawlVersion = trawlVersion
        self.experiment = experiment
        self.gridPoint = gridPoint
        self.gridParameters = gridParameters
        self.backbone = backbone
        self.aggregator = aggregator
        self.scorer = scorer
        self.threshold = threshold
        self.trainingScores = trainingScores
        self.scoreRange = scoreRange
    }

    /// `score` on a 0–1 scale as anomalib's min–max normalisation does it:
    /// `(score − threshold) / (max − min) + 0.5`, clipped to [0, 1], with `min … max` the
    /// ``scoreRange``. The threshold maps to 0.5 (above = predicted anomalous) and one run's
    /// score range spans 1. (A rank among the training scores would saturate for PatchCore,
    /// whose training images sit in their own memory bank and score ≈ 0.) A range of zero
    /// width gives 0 or 1 by the threshold.
    public func normalisedScore(_ score: Double) -> Double {
        let span = scoreRange.upperBound - scoreRange.lowerBound
        guard span > 0 else { return score >= threshold.value ? 1 : 0 }
        return min(1, max(0, (score - threshold.value) / span + 0.5))
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
