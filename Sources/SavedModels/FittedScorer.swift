import Scorers

/// A scorer fitted on normal training features: what a grid point of a run fits and what
/// a saved model holds.
public enum FittedScorer: Sendable {
    case patchcore(PatchCoreScorer)
    case knn(KNNScorer)
    case mahalanobis(MahalanobisScorer)
    case gmm(GMMScorer)

    /// `patchcore`, `knn`, `mahalanobis` or `gmm` (the spec's scorer kinds).
    public var kind: String {
        switch self {
        case .patchcore: return "patchcore"
        case .knn: return "knn"
        case .mahalanobis: return "mahalanobis"
        case .gmm: return "gmm"
        }
    }

    /// Memory-bank rows (PatchCore, kNN); nil for parametric scorers.
    public var bankSize: Int? {
        switch self {
        case .patchcore(let scorer): return scorer.index?.count
        case .knn(let scorer): return scorer.index?.count
        case .mahalanobis, .gmm: return nil
        }
    }
}
