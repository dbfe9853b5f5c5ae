import CBLAS
import Tensors

/// Principal component analysis: the top eigenvectors of the sample covariance.
///
/// Conventions (those of sklearn `PCA` with the full solver): data are centred on the
/// column means, the covariance divides by `N − 1`, components are ordered by decreasing
/// variance, and each component's sign makes its largest-magnitude entry positive (the
/// first such entry on ties; sklearn's `svd_flip(u_based_decision=False)`). Arithmetic is
/// in Double; the covariance (one `dsyrk`) and LAPACK's `dsyevr` run on one OpenBLAS thread,
/// so the result does not depend on the thread count.
public struct PCA: Sendable {
    /// Column means of the fitted data `[D]`.
    public let mean: [Double]
    /// Principal axes `[components, D]`, row-major, unit length, largest variance first.
    public let axes: [Double]
    /// Variance along each axis (the covariance eigenvalues), `[components]`, descending.
    public let explainedVariance: [Double]

    /// Number of components kept.
    public var components: Int { explainedVariance.count }
    /// Input dimension `D`.
    public var dimension: Int { mean.count }

    /// Fits the top `components` axes of `points` (`[N, D]`, `N ≥ 2`, finite).
    public init(fitting points: Tensor, components: Int = 2) throws {
        try validatePoints(points, minimumRows: 2)
        let (n, d) = (points.shape[0], points.shape[1])
        guard (1...d).contains(components) else {
            throw ProjectionError.invalidParameter(name: "components", value: "\(components)",
                                                   reason: "must be in 1...\(d) (the input dimension)")
        }
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { mean[j] += Double(points.data[r * d + j]) } }
        mean = mean.map { $0 / Double(n) }
        var centred = [Double](repeating: 0, count: n * d)
        for r in 0..<n { for j in 0..<d { centred[r * d + j] = Double(points.data[r * d + j]) - mean[j] } }

        // Covariance, upper triangle (row-major) = lower triangle (column-major, for LAPACK).
        var covariance = [Double](repeating: 0, count: d * d)
        BLASThreads.pinToOne()
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(n), 1 / Double(n - 1),
                    centred, Int32(d), 0, &covariance, Int32(d))
        let (eigenvalues, vectors) = try largestEigenpairs(ofLowerColumnMajor: &covariance, n: d, count: components)
        var axes = vectors
        for c in 0..<components {
            let row = c * d
            var largest = row
            for j in row..<row + d where abs(axes[j]) > abs(axes[largest]) { largest = j }
            if axes[largest] < 0 { for j in row..<row + d { axes[j] = -axes[j] } }
        }
        self.mean = mean
        self.axes = axes
        self.explainedVariance = eigenvalues.map { max(0, $0) }
    }

    /// Coordinates of `points` (`[N, D]`) along the axes: `(x − mean) · axesᵀ`, `[N, components]`.
    public func transform(_ points: Tensor) throws -> Tensor {
        try validatePoints(points, minimumRows: 1)
        guard points.shape[1] == dimension else {
            throw ProjectionError.badShape(argument: "points", shape: points.shape, expected: "[N, \(dimension)]")
        }
        let (n, d, k) = (points.shape[0], dimension, components)
        var out = Tensor(shape: [n, k])
        for r in 0..<n {
            for c in 0..<k {
                var s: Double = 0
                for j in 0..<d { s += (Double(points.data[r * d + j]) - mean[j]) * axes[c * d + j] }
                out.data[r * k + c] = Float(s)
            }
        }
        return out
    }
}

/// The `count` largest eigenvalues (descending) and their unit eigenvectors (`[count, n]`,
/// row-major) of the symmetric `n × n` matrix whose lower triangle (column-major) is in
/// `matrix` (destroyed), by LAPACK `dsyevr`.
func largestEigenpairs(ofLowerColumnMajor matrix: inout [Double], n: Int, count: Int) throws -> ([Double], [Double]) {
    // Separate variables for each by-pointer argument (Swift forbids overlapping accesses).
    var (order, leading, vectorLeading) = (Int32(n), Int32(n), Int32(n))
    var (lowest, highest, found, info) = (Int32(n - count + 1), Int32(n), Int32(0), Int32(0))
    var (lowerBound, upperBound, tolerance) = (0.0, 0.0, 0.0)   // bounds unused; tolerance 0: LAPACK's default
    var values = [Double](repeating: 0, count: n)
    var vectors = [Double](repeating: 0, count: n * count)
    var support = [Int32](repeating: 0, count: 2 * count)
    var (workSize, integerWorkSize) = (Int32(-1), Int32(-1))
    var workQuery = 0.0
    var integerWorkQuery = Int32(0)
    dsyevr_("V", "I", "L", &order, &matrix, &leading, &lowerBound, &upperBound, &lowest, &highest, &tolerance,
            &found, &values, &vectors, &vectorLeading, &support, &workQuery, &workSize, &integerWorkQuery,
            &integerWorkSize, &info, 1, 1, 1)
    guard info == 0 else { throw ProjectionError.eigensolverFailed(info: Int(info)) }
    workSize = Int32(workQuery)
    integerWorkSize = integerWorkQuery
    var work = [Double](repeating: 0, count: Int(workSize))
    var integerWork = [Int32](repeating: 0, count: Int(integerWorkSize))
    dsyevr_("V", "I", "L", &order, &matrix, &leading, &lowerBound, &upperBound, &lowest, &highest, &tolerance,
            &found, &values, &vectors, &vectorLeading, &support, &work, &workSize, &integerWork,
            &integerWorkSize, &info, 1, 1, 1)
    guard info == 0, Int(found) == count else { throw ProjectionError.eigensolverFailed(info: Int(info)) }
    // LAPACK returns ascending eigenvalues with eigenvector j in column j (contiguous).
    let descending = (0..<count).reversed()
    return (descending.map { values[$0] }, descending.flatMap { vectors[$0 * n ..< ($0 + 1) * n] })
}
