import Backbones
import Datasets
import Foundation
import Scorers

/// An experiment as `Experiments/NAME.json` describes it: which images, which backbone
/// features, which scorer (with parameters that may be swept), which metrics and outputs.
///
/// Read with `ExperimentSpec(contentsOf:)`, which checks every key, type and range and
/// reports the first problem as one `SpecError` naming the file and JSON path.
public struct ExperimentSpec: Sendable {
    /// Names the results folder `Results/NAME/`; equals the spec file's name without `.json`.
    public var name: String
    public var description: String
    /// The dataset points: one per combination of the dataset fields the spec sweeps (one
    /// when none is), in expansion order. Paths resolved: environment variables expanded,
    /// relative paths anchored at the spec's folder.
    public var datasets: [DatasetPoint]
    /// `dataset.quality`: images whose quality columns (``ImageQuality``) fail it are excluded
    /// from every dataset point before anything is fitted or scored, and counted; nil keeps
    /// every image. Not swept: one filter for all dataset points.
    public var qualityFilter: Datasets.Predicate?
    public var backbone: BackboneSpec
    public var features: FeatureSpec
    public var scorer: ScorerSpec
    /// The species classifier beside the anomaly score (FathomNet 2023's MAP@20); nil = none.
    public var classifier: ClassifierSpec?
    public var metrics: [MetricName]
    public var threshold: ThresholdRule
    /// Seeds everything random: the dataset split (unless the dataset names its own seed),
    /// coreset selection, GMM initialisation.
    public var seed: UInt64
    public var outputs: OutputSpec
    /// Largest allowed change of each metric, either direction, before `make regress` fails
    /// (default 0.005 each).
    public var tolerances: [MetricName: Double]
}

/// One combination of the dataset fields a spec sweeps (`"cell_type": ["mono", "poly"]`,
/// `"normal_classes": [[0], [1]]`): a dataset configuration with single values.
public struct DatasetPoint: Equatable, Sendable {
    /// Position among the spec's dataset points, from 0, the last swept field varying fastest.
    public var index: Int
    public var configuration: DatasetConfiguration
    /// The swept fields and their values at this point (empty when nothing is swept), named
    /// by their key (`cell_type`) or, inside predicates, their path (`train.value`).
    public var parameters: [Parameter]
}

/// The pretrained network whose feature maps describe the images.
///
/// Codable with snake_case keys (`input_size`): a saved model stores it as the spec writes it.
public struct BackboneSpec: Hashable, Codable, Sendable {
    /// Backbones the spec accepts: the Backbones registry's.
    public static let names = BackboneRegistry.all(assets: URL(fileURLWithPath: ".assets")).map(\.name)

    public var name: String
    /// Checkpoint path (resolved); nil = the registry's default location (`make setup`,
    /// torch's download cache).
    public var weights: String?
    /// Taps whose feature maps are concatenated, in spec order, by stride alias
    /// (`stride8`); a module name in the spec (`_blocks.4`) is stored as its alias.
    public var taps: [String]
    /// Side of the square resize before cropping, in pixels (PIL bilinear).
    public var resize: Int
    /// Side of the centre crop the network sees, in pixels (≤ `resize`).
    public var inputSize: Int
    /// Full-resolution tiled extraction instead of resize + crop (then `resize` and
    /// `inputSize` do not apply); nil = resize + crop.
    public var tiling: Tiling? = nil
}

/// How backbone feature maps become patch features (PatchCore; the image-level scorers
/// use the taps' global averages).
public struct FeatureSpec: Hashable, Sendable {
    /// Side of the local neighbourhood each patch feature averages (odd; 1 = none),
    /// PatchCore's patch size `p`.
    public var pooling: Sweep<Int>
    /// Length each tap's neighbourhood vector is pooled to (PatchCore's
    /// `pretrain_embed_dimension`); nil = the tap's channel count.
    public var pretrainDim: Sweep<Int?>
    /// Length of the concatenated patch feature after a final adaptive average pooling
    /// (PatchCore's `target_embed_dimension`); nil keeps the concatenation.
    public var targetDim: Sweep<Int?>
    /// Transformed copies of every training image added to the memory bank before the
    /// coreset (never to the test set), in `Augmentation.allCases` order; empty = none.
    public var augment: Sweep<[Augmentation]>
}

/// A transform of the network input `[3, S, S]` (after resize and crop) whose features are
/// added to the PatchCore memory bank.
public enum Augmentation: String, CaseIterable, Hashable, Sendable {
    /// Mirror left–right.
    case hflip
    /// Mirror top–bottom.
    case vflip
    /// Rotate 90° counter-clockwise (numpy `rot90`).
    case rot90
}

/// Distance between feature vectors.
public enum DistanceName: String, CaseIterable, Hashable, Sendable {
    /// `‖q − m‖₂`.
    case euclidean
    /// `‖q − m‖₂²` (what the PatchCore reference's faiss index reports).
    case squaredEuclidean = "squared_euclidean"
    /// `1 − cos(q, m)`.
    case cosine
}

/// The anomaly scorer and its parameters.
public enum ScorerSpec: Hashable, Sendable {
    case patchcore(PatchCoreSpec)
    case knn(KNNSpec)
    case mahalanobis(MahalanobisSpec)
    case gmm(GMMSpec)
    case ocsvm(OneClassSVMSpec)

    public static let kinds = ["patchcore", "knn", "mahalanobis", "gmm", "ocsvm"]

    public var kind: String {
        switch self {
        case .patchcore: return "patchcore"
        case .knn: return "knn"
        case .mahalanobis: return "mahalanobis"
        case .gmm: return "gmm"
        case .ocsvm: return "ocsvm"
        }
    }
}

/// PatchCore (Roth et al., CVPR 2022): a greedy-coreset memory bank of training patches;
/// a test patch scores its distance to the bank, an image its most anomalous patch.
public struct PatchCoreSpec: Hashable, Sendable {
    /// Share of training patches kept in the memory bank, (0, 1].
    public var coresetRatio: Sweep<Double>
    /// Neighbours per test patch (1 = nearest-neighbour distance).
    public var k: Sweep<Int>
    public var metric: Sweep<DistanceName>
    /// Re-weight the image score by the density around its nearest bank patch (paper eq. 7).
    public var reweighting: Sweep<Bool>
    /// Random-projection dimension used to pick the coreset (the paper's 128).
    public var projectionDim: Int
    /// σ of the Gaussian that smooths the anomaly map, in input pixels (the paper's 4).
    public var blurSigma: Double
    /// What the anomaly map shows: the patch scores, or each minus its image's median.
    public var mapNormalization: MapNormalization = .none
    /// Side (patch-grid cells, odd) of the maximum filter the map applies before resizing; 1 = none.
    public var mapMaxFilter: Int = 1
    /// Shards of the two-round coreset (1 = one greedy pass over the whole bank): bank rows
    /// are grouped by their image's ``ImageShard``, each shard keeps a greedy coreset of
    /// `CoresetSampler.shardOversampling` × the ratio, and one greedy pass over their union
    /// keeps the ratio.
    public var coresetShards: Int = 1
    /// How test patches search the bank: nil = exact, else a faiss index.
    public var index: Sweep<ApproximateSearch.Kind?> = Sweep(nil)
}

/// Image-level k-nearest-neighbour distance between global-average-pooled features.
public struct KNNSpec: Hashable, Sendable {
    /// How the k neighbour distances become a score.
    public enum Aggregate: String, CaseIterable, Hashable, Sendable {
        /// Mean distance to the k nearest (the FathomNet seed protocol).
        case mean
        /// Distance to the k-th nearest of L2-normalised features (Sun et al. 2022, OpenOOD KNN).
        case kth
    }

    public var k: Sweep<Int>
    public var metric: Sweep<DistanceName>
    public var aggregate: Sweep<Aggregate>
    /// Min–max scale scores by the leave-one-out training scores (0 = the lowest, 1 = the
    /// highest training score); thresholds are then in the same units.
    public var scale: Bool
    /// How test embeddings search the training bank: nil = exact, else a faiss index.
    public var index: Sweep<ApproximateSearch.Kind?> = Sweep(nil)
}

/// Mahalanobis distance to a Gaussian fitted to global-average-pooled training features.
public struct MahalanobisSpec: Hashable, Sendable {
    public enum Estimator: String, CaseIterable, Hashable, Sendable {
        /// Ledoit–Wolf shrinkage toward the scaled identity (sklearn `LedoitWolf`).
        case ledoitWolf = "ledoit_wolf"
        /// Sample covariance plus `ridge · I` (PaDiM uses ridge 0.01).
        case sample
    }

    public var estimator: Sweep<Estimator>
    /// Added to the sample covariance's diagonal, in squared feature units.
    public var ridge: Sweep<Double>
}

/// Negative log-likelihood under a Gaussian mixture fitted (EM) to global-average-pooled
/// training features.
public struct GMMSpec: Hashable, Sendable {
    public enum Covariance: String, CaseIterable, Hashable, Sendable { case full, diagonal }

    public var components: Sweep<Int>
    public var covariance: Sweep<Covariance>
    /// EM iterations at most.
    public var iterations: Int
    /// Added to covariance diagonals, in squared feature units.
    public var regularization: Double
}

/// One-class SVM (RBF kernel, libsvm's dual as sklearn `OneClassSVM` solves it) on
/// global-average-pooled training features; the score is the negated decision value.
public struct OneClassSVMSpec: Hashable, Sendable {
    /// The RBF kernel's γ in `exp(−γ‖a − b‖²)`.
    public enum Gamma: Hashable, Sendable, CustomStringConvertible {
        /// sklearn's `"scale"`: `1 / (D · Var(X))` over the training features.
        case scale
        /// A fixed γ > 0, in inverse squared feature units.
        case value(Double)

        /// As the spec writes it: `scale` or the number.
        public var description: String {
            switch self {
            case .scale: return "scale"
            case .value(let gamma): return formatNumber(gamma)
            }
        }
    }

    /// Upper bound on the share of training outliers, lower bound on the share of support
    /// vectors, in (0, 1].
    public var nu: Sweep<Double>
    public var gamma: Sweep<Gamma>
}

/// A multi-label linear probe (one-vs-rest L2-regularised logistic regression) on the
/// training split's global-average-pooled features, ranking categories for each test image.
public struct ClassifierSpec: Hashable, Sendable {
    /// The sample metadata column holding each image's categories (Fashion-MNIST: `class`).
    public var labelsColumn: String
    /// Splits a column value into categories; nil = the whole value is one category.
    public var separator: String?
    /// λ, the L2 penalty per training sample (sklearn's `C = 1 / (N·λ)`).
    public var regularization: Double
    /// Categories predicted per image (submission.csv and MAP@20), 1–20.
    public var topK: Int
}

/// Metrics a spec may ask for.
public enum MetricName: String, CaseIterable, Hashable, Sendable {
    /// Image-level area under the ROC curve.
    case auroc
    /// Image-level average precision (area under the precision–recall curve).
    case ap
    /// Scaled AUROC, 2·AUROC − 1 (FathomNet's out-of-sample score).
    case sauc
    /// Best F1 over all thresholds.
    case f1Max = "f1_max"
    /// Pixel-level AUROC (datasets with masks).
    case pixelAUROC = "pixel_auroc"
    /// Area under the per-region-overlap curve up to FPR 0.3, normalised (datasets with masks).
    case aupro
    /// Share of normal test images flagged at the first ROC point catching 95 % of the
    /// anomalous ones (OpenOOD v1.5; lower is better).
    case fprAt95TPR = "fpr_at_95_tpr"
    /// Area under the PR curve with normal images positive, ranked by the negated score (OpenOOD).
    case auprIn = "aupr_in"
    /// Area under the PR curve with anomalous images positive (OpenOOD).
    case auprOut = "aupr_out"
    /// The classifier's mean average precision at 20 over test images (FathomNet 2023).
    case mapAt20 = "map_at_20"
    /// FathomNet 2023's score, ½ (sAUC + MAP@20).
    case fathomnetScore = "fathomnet_score"
}

/// How the PASS/FAIL decision threshold on the anomaly score is chosen.
public enum ThresholdRule: Hashable, Sendable {
    /// The threshold maximising F1 on the test set (optimistic: it looks at test labels).
    case f1Max
    /// This percentile (0–100) of the training images' scores.
    case trainPercentile(Double)
    /// A fixed score.
    case fixed(Double)

    public static let rules = ["f1_max", "train_percentile", "fixed"]
}

/// Files written besides the tables.
public struct OutputSpec: Hashable, Sendable {
    /// Anomaly-map heatmaps for this many most anomalous test images (PatchCore only).
    public var heatmaps: Int
    /// Draw heatmaps over the image (true) or alone (false).
    public var overlays: Bool
    /// Which grid points save a model: `model.h5` for the best point only, or also
    /// `models/point-N.h5` for every point.
    public var model: ModelOutput = .best

    public enum ModelOutput: String, CaseIterable, Hashable, Sendable {
        case best, all
    }
}

extension ExperimentSpec {
    /// This spec with `scorer.coreset_shards` = `shards` (`trawl run --coreset-shards`); an
    /// error naming `file` when its scorer is not PatchCore.
    public func withCoresetShards(_ shards: Int, file: URL) throws -> ExperimentSpec {
        guard case .patchcore(var patchcore) = scorer else {
            throw RunError("\(file.path): --coreset-shards needs a patchcore scorer; the spec's is \(scorer.kind)")
        }
        guard (1...4096).contains(shards) else { throw RunError("--coreset-shards \(shards): allowed 1…4096") }
        patchcore.coresetShards = shards
        var spec = self
        spec.scorer = .patchcore(patchcore)
        return spec
    }
}
