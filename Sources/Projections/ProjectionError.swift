import Tensors

/// Why a projection refused its input. Every case names the offending argument.
public enum ProjectionError: Error, Equatable, CustomStringConvertible {
    /// The input is not `[N, D]` with enough rows.
    case badShape(argument: String, shape: [Int], expected: String)
    /// The input holds NaN or ±infinity.
    case nonFinite(argument: String, index: Int)
    /// A parameter outside its valid range.
    case invalidParameter(name: String, value: String, reason: String)
    /// LAPACK's eigensolver failed (its `info` code).
    case eigensolverFailed(info: Int)

    public var description: String {
        switch self {
        case let .badShape(argument, shape, expected):
            return "\(argument): shape \(shape), expected \(expected)"
        case let .nonFinite(argument, index):
            return "\(argument): non-finite value (NaN or infinity) at flat index \(index)"
        case let .invalidParameter(name, value, reason):
            return "\(name) = \(value): \(reason)"
        case let .eigensolverFailed(info):
            return "symmetric eigensolver (LAPACK dsyevr) failed with info = \(info)"
        }
    }
}

/// Checks that `x` is `[N, D]` with `N ≥ minimumRows`, `D ≥ 1` and finite values.
func validatePoints(_ x: Tensor, minimumRows: Int, _ argument: String = "points") throws {
    guard x.rank == 2, x.shape[0] >= minimumRows, x.shape[1] >= 1 else {
        throw ProjectionError.badShape(argument: argument, shape: x.shape,
                                       expected: "[N, D] with N ≥ \(minimumRows) and D ≥ 1")
    }
    if let index = x.data.firstIndex(where: { !$0.isFinite }) {
        throw ProjectionError.nonFinite(argument: argument, index: index)
    }
}
