import Scorers

/// A scorer fitted on normal training features: what a grid point of a run fits and what
/// a saved model holds.
public enum FittedScorer: Sendable {
    case patchcore(PatchCoreScorer)
    case knn(KNNScorer)
    case mahalanobis(MahalanobisScorer)
    case gmm(GMMScorer)
    case ocsvm(OneClassSVMScorer)

    /// `patchcore`, `knn`, `mahalanobis`, `gmm` or `ocsvm` (the spec's scorer kinds).
    public var kind: String {
        switch self {
        case .patchcore: return "patchcore"
        case .knn: return "knn"
        case .mahalanobis: return "mahalanobis"
        case .gmm: return "gmm"
        case .ocsvm: return "ocsvm"
        }
    }

    /// Memory-bank rows (PatchCore, kNN); nil for parametric scorers and the one-class SVM.
    public var bankSize: Int? {
        switch self {
        case .patchcore(let scorer): return scorer.index?.count
        case .knn(let scorer): return scorer.index?.count
        case .mahalanobis, .gmm, .ocsvm: return nil
        }
    }
}
