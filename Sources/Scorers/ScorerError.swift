import Tensors

/// Why a scorer refused its input. Every case names the offending argument.
public enum ScorerError: Error, Equatable, CustomStringConvertible {
    /// A feature array has the wrong rank or extents.
    case badShape(argument: String, shape: [Int], expected: String)
    /// A feature array holds NaN or ±infinity.
    case nonFinite(argument: String, index: Int)
    /// Nothing to fit on or search in.
    case empty(argument: String)
    /// More neighbours asked for than the bank holds.
    case notEnoughNeighbours(requested: Int, available: Int)
    /// A parameter outside its valid range.
    case invalidParameter(name: String, value: String, reason: String)
    /// `score` called before `fit`.
    case notFitted(scorer: String)
    /// A covariance that stays singular after regularisation.
    case singularCovariance(context: String)

    public var description: String {
        switch self {
        case let .badShape(argument, shape, expected):
            return "\(argument): shape \(shape), expected \(expected)"
        case let .nonFinite(argument, index):
            return "\(argument): non-finite value (NaN or infinity) at flat index \(index)"
        case let .empty(argument):
            return "\(argument): empty (no rows)"
        case let .notEnoughNeighbours(requested, available):
            return "k = \(requested) nearest neighbours requested but the bank holds only \(available) entries"
        case let .invalidParameter(name, value, reason):
            return "\(name) = \(value): \(reason)"
        case let .notFitted(scorer):
            return "\(scorer): score called before fit"
        case let .singularCovariance(context):
            return "\(context): covariance is not positive definite (Cholesky failed)"
        }
    }
}

/// Checks that `x` is `[N, D]` with `N ≥ 1` and `D ≥ 1`, all finite.
func validateMatrix(_ x: Tensor, _ argument: String) throws {
    guard x.rank == 2 else {
        throw ScorerError.badShape(argument: argument, shape: x.shape, expected: "[N, D]")
    }
    guard x.shape[0] > 0 else { throw ScorerError.empty(argument: argument) }
    guard x.shape[1] > 0 else {
        throw ScorerError.badShape(argument: argument, shape: x.shape, expected: "[N, D] with D ≥ 1")
    }
    try validateFinite(x, argument)
}

/// Throws ``ScorerError/nonFinite(argument:index:)`` at the first NaN or infinity.
func validateFinite(_ x: Tensor, _ argument: String) throws {
    if let index = x.data.firstIndex(where: { !$0.isFinite }) {
        throw ScorerError.nonFinite(argument: argument, index: index)
    }
}

/// Row squared norms of a row-major `[rows, dim]` matrix.
func rowSquaredNorms(_ x: UnsafePointer<Float>, rows: Int, dim: Int) -> [Float] {
    (0..<rows).map { r in
        var s: Float = 0
        let row = x + r * dim
        for j in 0..<dim { s += row[j] * row[j] }
        return s
    }
}
