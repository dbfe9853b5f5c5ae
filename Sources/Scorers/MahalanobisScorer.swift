import Tensors

/// How a Gaussian's covariance is estimated from `N` samples.
public enum CovarianceEstimator: Sendable, Equatable {
    /// Ledoit–Wolf shrinkage towards `μ·I` (`μ` = mean variance), exactly as
    /// sklearn `LedoitWolf` (maximum-likelihood covariance, divisor `N`).
    case ledoitWolf
    /// Unbiased sample covariance (divisor `N − 1`) plus `ridge · I`: PaDiM's
    /// estimator with `ridge = 0.01`.
    case sampleWithRidge(Double)
}

/// A fitted Gaussian: mean, covariance estimate and its whitening factor.
public struct GaussianFit: Sendable {
    /// `[D]`.
    public let mean: [Double]
    /// Shrinkage intensity chosen by Ledoit–Wolf (0 for ``CovarianceEstimator/sampleWithRidge(_:)``).
    public let shrinkage: Double
    /// `L⁻¹` for the Cholesky factor `Σ = L Lᵀ`, row-major `[D, D]` float.
    public let whitening: [Float]

    /// A saved fit: mean `[D]`, whitening `[D·D]` (row-major `L⁻¹`), shrinkage.
    public init(mean: [Double], whitening: [Float], shrinkage: Double) throws {
        guard !mean.isEmpty, whitening.count == mean.count * mean.count else {
            throw ScorerError.invalidParameter(name: "whitening", value: "\(whitening.count) values",
                                               reason: "must be D·D for a mean of D = \(mean.count)")
        }
        self.mean = mean
        self.whitening = whitening
        self.shrinkage = shrinkage
    }

    /// Fits `samples` (`[N, D]`, rows are samples).
    init(_ samples: Tensor, estimator: CovarianceEstimator, context: String) throws {
        let (covariance, mean, shrinkage) = try Self.estimate(samples, estimator: estimator, context: context)
        var factor = covariance
        let d = mean.count
        guard LinearAlgebra.choleskyInPlace(&factor, n: d) else { throw ScorerError.singularCovariance(context: context) }
        self.mean = mean
        self.shrinkage = shrinkage
        self.whitening = LinearAlgebra.invertLower(factor, n: d).map(Float.init)
    }

    /// Covariance `[D·D]`, mean `[D]` and shrinkage of `samples` `[N, D]`.
    static func estimate(_ samples: Tensor, estimator: CovarianceEstimator, context: String) throws
        -> (covariance: [Double], mean: [Double], shrinkage: Double) {
        let (n, d) = (samples.shape[0], samples.shape[1])
        let mean = samples.data.withUnsafeBufferPointer { LinearAlgebra.columnMeans($0.baseAddress!, rows: n, d: d) }
        var centred = [Float](repeating: 0, count: n * d)
        for r in 0..<n { for j in 0..<d { centred[r * d + j] = Float(Double(samples.data[r * d + j]) - mean[j]) } }
        let gram = LinearAlgebra.gram(centred, rows: n, d: d)
        switch estimator {
        case .sampleWithRidge(let ridge):
            guard n >= 2 else {
                throw ScorerError.invalidParameter(name: "\(context) samples", value: "\(n)",
                                                   reason: "the unbiased covariance needs at least 2 samples")
            }
            var covariance = gram.map { $0 / Double(n - 1) }
            for i in 0..<d { covariance[i * d + i] += ridge }
            return (covariance, mean, 0)
        case .ledoitWolf:
            var covariance = gram.map { $0 / Double(n) }
            let shrinkage = ledoitWolfShrinkage(centred, covariance: covariance, n: n, d: d)
            let mu = (0..<d).reduce(0.0) { $0 + covariance[$1 * d + $1] } / Double(d)
            for i in 0..<d * d { covariance[i] *= 1 - shrinkage }
            for i in 0..<d { covariance[i * d + i] += shrinkage * mu }
            return (covariance, mean, shrinkage)
        }
    }

    /// sklearn `ledoit_wolf_shrinkage` on centred samples:
    /// `β = (Σₙ‖xₙ‖⁴/N − ‖S‖²_F) / (D·N)`, `δ = ‖S − μI‖²_F / D`,
    /// shrinkage `= min(β, δ) / δ` (0 when `β = 0` or `D = 1`).
    static func ledoitWolfShrinkage(_ centred: [Float], covariance s: [Double], n: Int, d: Int) -> Double {
        guard d > 1 else { return 0 }
        var fourth: Double = 0
        for r in 0..<n {
            var norm: Double = 0
            for j in 0..<d { let v = Double(centred[r * d + j]); norm += v * v }
            fourth += norm * norm
        }
        let frobenius = s.reduce(0) { $0 + $1 * $1 }
        let trace = (0..<d).reduce(0.0) { $0 + s[$1 * d + $1] }
        let mu = trace / Double(d)
        var beta = (fourth / Double(n) - frobenius) / (Double(d) * Double(n))
        let delta = (frobenius - 2 * mu * trace + Double(d) * mu * mu) / Double(d)
        beta = min(beta, delta)
        return beta == 0 ? 0 : beta / delta
    }

    /// Mahalanobis distances `√((x − μ)ᵀ Σ⁻¹ (x − μ))` of the rows of `x` (`[rows, D]`).
    func distances(_ x: UnsafePointer<Float>, rows: Int) -> [Float] {
        LinearAlgebra.whitenedSquaredNorms(x, rows: rows, d: mean.count, mean: mean, whitening: whitening)
            .map { Float($0.squareRoot()) }
    }
}

/// Gaussian (Mahalanobis-distance) anomaly scorer.
///
/// - Image level: one Gaussian over embeddings `[N, D]`; an image scores its
///   Mahalanobis distance to it.
/// - Per position (PaDiM): features `[N, C, H, W]` get one Gaussian per cell
///   (`H·W` means and `C × C` covariances; memory `H·W·C²` floats); the map
///   is the per-cell distance `[H, W]`, the image score its maximum, and
///   ``AnomalyScores/anomalyMaps`` the map resized to the image and blurred.
///
/// Covariances default to Ledoit–Wolf; PaDiM itself uses
/// `.sampleWithRidge(0.01)`. Inverses come from a Cholesky factorisation in Double.
public struct MahalanobisScorer: Sendable {
    public var estimator: CovarianceEstimator
    /// Gaussian σ (pixels) of the per-position map blur; 0 for none.
    public var blurSigma: Float

    enum Model: Sendable {
        case global(GaussianFit)
        case spatial([GaussianFit], channels: Int, height: Int, width: Int)
    }
    private(set) var model: Model?

    public init(estimator: CovarianceEstimator = .ledoitWolf, blurSigma: Float = 4) {
        self.estimator = estimator
        self.blurSigma = blurSigma
    }

    /// The image-level fit; nil unless fitted with ``fit(_:)``.
    public var gaussian: GaussianFit? {
        if case .global(let fit)? = model { return fit }
        return nil
    }

    /// Fits one Gaussian to embeddings `[N, D]`.
    public mutating func fit(_ embeddings: Tensor) throws {
        try validateMatrix(embeddings, "Mahalanobis training embeddings")
        model = .global(try GaussianFit(embeddings, estimator: estimator, context: "Mahalanobis fit"))
    }

    /// Installs a saved image-level fit (``gaussian`` of a fitted scorer).
    public mutating func restore(_ fit: GaussianFit) {
        model = .global(fit)
    }

    /// Distances of embeddings `[N, D]` to the fitted Gaussian.
    public func score(_ embeddings: Tensor) throws -> [Float] {
        guard case .global(let fit)? = model else { throw ScorerError.notFitted(scorer: "MahalanobisScorer (image level)") }
        try validateMatrix(embeddings, "Mahalanobis test embeddings")
        guard embeddings.shape[1] == fit.mean.count else {
            throw ScorerError.badShape(argument: "Mahalanobis test embeddings", shape: embeddings.shape,
                                       expected: "[N, \(fit.mean.count)]")
        }
        return embeddings.data.withUnsafeBufferPointer { fit.distances($0.baseAddress!, rows: embeddings.shape[0]) }
    }

    /// Fits one Gaussian per cell of spatial features `[N, C, H, W]` (PaDiM).
    public mutating func fit(spatial features: Tensor) throws {
        try validateTaps([features])
        let (n, c, h, w) = (features.shape[0], features.shape[1], features.shape[2], features.shape[3])
        var fits = [GaussianFit]()
        for cell in 0..<h * w {
            let samples = Self.cellSamples(features, cell: cell, n: n, c: c, plane: h * w)
            fits.append(try GaussianFit(samples, estimator: estimator, context: "Mahalanobis fit at cell \(cell)"))
        }
        model = .spatial(fits, channels: c, height: h, width: w)
    }

    /// Per-cell distances, image scores (maximum cell) and maps at the image size.
    public func score(spatial features: Tensor, imageHeight: Int, imageWidth: Int) throws -> AnomalyScores {
        guard case let .spatial(fits, c, h, w)? = model else {
            throw ScorerError.notFitted(scorer: "MahalanobisScorer (per position)")
        }
        try validateTaps([features])
        guard Array(features.shape.dropFirst()) == [c, h, w] else {
            throw ScorerError.badShape(argument: "Mahalanobis test features", shape: features.shape, expected: "[N, \(c), \(h), \(w)]")
        }
        let n = features.shape[0]
        var grid = Tensor(shape: [n, h, w])
        for cell in 0..<h * w {
            let samples = Self.cellSamples(features, cell: cell, n: n, c: c, plane: h * w)
            let d = samples.data.withUnsafeBufferPointer { fits[cell].distances($0.baseAddress!, rows: n) }
            for image in 0..<n { grid.data[image * h * w + cell] = d[image] }
        }
        let imageScores = (0..<n).map { grid.data[$0 * h * w ..< ($0 + 1) * h * w].max()! }
        return AnomalyScores(imageScores: imageScores, patchScores: grid,
                             anomalyMaps: anomalyMaps(grid, height: imageHeight, width: imageWidth, sigma: blurSigma))
    }

    /// The `[N, C]` vectors at one cell of `[N, C, H, W]`.
    private static func cellSamples(_ x: Tensor, cell: Int, n: Int, c: Int, plane: Int) -> Tensor {
        var data = [Float](repeating: 0, count: n * c)
        for image in 0..<n { for channel in 0..<c { data[image * c + channel] = x.data[(image * c + channel) * plane + cell] } }
        return Tensor(shape: [n, c], data: data)
    }
}
