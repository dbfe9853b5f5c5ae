import Tensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gaussian-mixture anomaly scorer: EM on training embeddings `[N, D]`;
/// a test embedding scores its negative log-likelihood
/// `−log Σₖ πₖ 𝒩(x | μₖ, Σₖ)` (natural log, computed by log-sum-exp).
///
/// Follows sklearn `GaussianMixture`: `regCovar` (1e-6) added to every
/// covariance diagonal, component weights `nₖ / N` with `nₖ` the summed
/// responsibilities (+ 10·ε), convergence when the mean log-likelihood
/// changes by less than `tolerance` (1e-3), at most `maxIterations` (100).
/// Initialisation: k-means++ seeding (D² sampling from the seed), every point
/// assigned to its nearest seed, then one M-step (sklearn's default runs full
/// k-means instead).
public struct GMMScorer: Sendable {
    public enum CovarianceType: String, Sendable { case full, diagonal }

    public var components: Int
    public var covarianceType: CovarianceType
    public var regCovar: Double
    public var tolerance: Double
    public var maxIterations: Int
    public var seed: UInt64

    /// Mixture weights `[K]`; empty before ``fit(_:)``.
    public private(set) var weights: [Double] = []
    /// Component means, `[K][D]`.
    public private(set) var means: [[Double]] = []
    /// Mean training log-likelihood at the last iteration.
    public private(set) var lowerBound: Double = -.infinity
    /// EM iterations run, and whether the tolerance was met.
    public private(set) var iterations = 0
    public private(set) var converged = false
    private var whitenings: [[Float]] = []      // full: L⁻¹ [D·D]; diagonal: 1/σ [D]
    private var logDeterminants: [Double] = []  // log |Σₖ|

    public init(components: Int = 1, covarianceType: CovarianceType = .full, regCovar: Double = 1e-6,
                tolerance: Double = 1e-3, maxIterations: Int = 100, seed: UInt64 = 0) {
        self.components = components
        self.covarianceType = covarianceType
        self.regCovar = regCovar
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.seed = seed
    }

    /// Runs EM on `[N, D]` training embeddings (`N ≥ components`).
    public mutating func fit(_ x: Tensor) throws {
        try validateMatrix(x, "GMM training embeddings")
        guard components >= 1 && components <= x.shape[0] else {
            throw ScorerError.invalidParameter(name: "components", value: "\(components)",
                                               reason: "must be in 1...\(x.shape[0]) (the number of samples)")
        }
        try maximise(x, initialResponsibilities(x))
        lowerBound = -.infinity
        converged = false
        iterations = 0
        // sklearn's order: E-step, M-step, then the convergence test on the
        // E-step's mean log-likelihood; parameters come from the last M-step.
        while iterations < maxIterations {
            let (logLikelihoods, posteriors) = expect(x)
            try maximise(x, posteriors)
            iterations += 1
            let bound = logLikelihoods.reduce(0, +) / Double(logLikelihoods.count)
            let change = bound - lowerBound
            lowerBound = bound
            if abs(change) < tolerance { converged = true; break }
        }
    }

    /// What scoring needs of a fitted mixture; ``restore(_:)`` installs it again.
    public struct Parameters: Equatable, Sendable {
        /// `[K]`.
        public var weights: [Double]
        /// `[K][D]`.
        public var means: [[Double]]
        /// Per component: `L⁻¹` row-major `[D·D]` (full) or `1/σ` `[D]` (diagonal).
        public var whitenings: [[Float]]
        /// `log |Σₖ|`, `[K]`.
        public var logDeterminants: [Double]

        public init(weights: [Double], means: [[Double]], whitenings: [[Float]], logDeterminants: [Double]) {
            self.weights = weights
            self.means = means
            self.whitenings = whitenings
            self.logDeterminants = logDeterminants
        }
    }

    /// The fitted mixture; nil before ``fit(_:)``.
    public var parameters: Parameters? {
        weights.isEmpty ? nil : Parameters(weights: weights, means: means, whitenings: whitenings,
                                           logDeterminants: logDeterminants)
    }

    /// Installs a saved mixture (``parameters`` of a scorer with the same ``covarianceType``).
    public mutating func restore(_ parameters: Parameters) throws {
        let k = parameters.weights.count
        let d = parameters.means.first?.count ?? 0
        let whiteningLength = covarianceType == .full ? d * d : d
        guard k >= 1, d >= 1, parameters.means.count == k, parameters.means.allSatisfy({ $0.count == d }),
              parameters.whitenings.count == k, parameters.whitenings.allSatisfy({ $0.count == whiteningLength }),
              parameters.logDeterminants.count == k else {
            throw ScorerError.invalidParameter(name: "GMM parameters", value: "\(k) components of dimension \(d)",
                                               reason: "weights, means, whitenings (\(covarianceType.rawValue)) and log-determinants must agree")
        }
        components = k
        weights = parameters.weights
        means = parameters.means
        whitenings = parameters.whitenings
        logDeterminants = parameters.logDeterminants
    }

    /// Negative log-likelihood of each row of `[N, D]`.
    public func score(_ x: Tensor) throws -> [Float] {
        guard !weights.isEmpty else { throw ScorerError.notFitted(scorer: "GMMScorer") }
        try validateMatrix(x, "GMM test embeddings")
        guard x.shape[1] == means[0].count else {
            throw ScorerError.badShape(argument: "GMM test embeddings", shape: x.shape, expected: "[N, \(means[0].count)]")
        }
        return expect(x).logLikelihoods.map { Float(-$0) }
    }

    /// Per-sample log-likelihoods of `[N, D]` rows.
    public func logLikelihoods(_ x: Tensor) -> [Double] { expect(x).logLikelihoods }

    // MARK: EM steps

    private func initialResponsibilities(_ x: Tensor) -> [Double] {
        let (n, d) = (x.shape[0], x.shape[1])
        var random = SeededRandom(seed: seed)
        var seeds = [Int(random.next() % UInt64(n))]
        var closest = (0..<n).map { squaredDistance(x, $0, seeds[0], d) }
        while seeds.count < components {
            let total = closest.reduce(0, +)
            var pick = n - 1
            if total > 0 {
                var target = random.nextUnit() * total
                for i in 0..<n {
                    target -= closest[i]
                    if target < 0 { pick = i; break }
                }
            } else {
                pick = (0..<n).first { !seeds.contains($0) } ?? 0
            }
            seeds.append(pick)
            for i in 0..<n { closest[i] = min(closest[i], squaredDistance(x, i, pick, d)) }
        }
        var responsibilities = [Double](repeating: 0, count: n * components)
        for i in 0..<n {
            var best = 0, bestDistance = Double.infinity
            for (k, s) in seeds.enumerated() {
                let dist = squaredDistance(x, i, s, d)
                if dist < bestDistance { (best, bestDistance) = (k, dist) }
            }
            responsibilities[i * components + best] = 1
        }
        return responsibilities
    }

    private mutating func maximise(_ x: Tensor, _ responsibilities: [Double]) throws {
        let (n, d, kCount) = (x.shape[0], x.shape[1], components)
        weights = []
        means = []
        whitenings = []
        logDeterminants = []
        for k in 0..<kCount {
            let nk = (0..<n).reduce(0.0) { $0 + responsibilities[$1 * kCount + k] } + 10 * Double.ulpOfOne
            var mean = [Double](repeating: 0, count: d)
            for i in 0..<n {
                let r = responsibilities[i * kCount + k]
                if r == 0 { continue }
                for j in 0..<d { mean[j] += r * Double(x.data[i * d + j]) }
            }
            mean = mean.map { $0 / nk }
            weights.append(nk / Double(n))
            means.append(mean)
            switch covarianceType {
            case .diagonal:
                var variance = [Double](repeating: 0, count: d)
                for i in 0..<n {
                    let r = responsibilities[i * kCount + k]
                    if r == 0 { continue }
                    for j in 0..<d { let v = Double(x.data[i * d + j]) - mean[j]; variance[j] += r * v * v }
                }
                variance = variance.map { $0 / nk + regCovar }
                whitenings.append(variance.map { Float(1 / $0.squareRoot()) })
                logDeterminants.append(variance.reduce(0) { $0 + log($1) })
            case .full:
                // Rows scaled by √r, centred, then one GEMM for the weighted scatter.
                var scaled = [Float](repeating: 0, count: n * d)
                for i in 0..<n {
                    let root = responsibilities[i * kCount + k].squareRoot()
                    for j in 0..<d { scaled[i * d + j] = Float(root * (Double(x.data[i * d + j]) - mean[j])) }
                }
                var covariance = LinearAlgebra.gram(scaled, rows: n, d: d).map { $0 / nk }
                for j in 0..<d { covariance[j * d + j] += regCovar }
                guard LinearAlgebra.choleskyInPlace(&covariance, n: d) else {
                    throw ScorerError.singularCovariance(context: "GMM component \(k); increase regCovar")
                }
                logDeterminants.append(2 * (0..<d).reduce(0.0) { $0 + log(covariance[$1 * d + $1]) })
                whitenings.append(LinearAlgebra.invertLower(covariance, n: d).map(Float.init))
            }
        }
    }

    /// Per-sample log-likelihoods and posterior responsibilities `[N·K]`.
    private func expect(_ x: Tensor) -> (logLikelihoods: [Double], posteriors: [Double]) {
        let (n, d, kCount) = (x.shape[0], x.shape[1], weights.count)
        let constant = Double(d) * log(2 * Double.pi)
        var joint = [Double](repeating: 0, count: n * kCount)   // log πₖ + log 𝒩ₖ
        for k in 0..<kCount {
            let mahalanobis: [Double]
            switch covarianceType {
            case .full:
                mahalanobis = x.data.withUnsafeBufferPointer {
                    LinearAlgebra.whitenedSquaredNorms($0.baseAddress!, rows: n, d: d, mean: means[k], whitening: whitenings[k])
                }
            case .diagonal:
                mahalanobis = (0..<n).map { i in
                    var s: Double = 0
                    for j in 0..<d {
                        let v = (Double(x.data[i * d + j]) - means[k][j]) * Double(whitenings[k][j])
                        s += v * v
                    }
                    return s
                }
            }
            for i in 0..<n {
                joint[i * kCount + k] = log(weights[k]) - 0.5 * (constant + logDeterminants[k] + mahalanobis[i])
            }
        }
        var logLikelihoods = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let row = joint[i * kCount ..< (i + 1) * kCount]
            let top = row.max()!
            let total = top + log(row.reduce(0) { $0 + exp($1 - top) })
            logLikelihoods[i] = total
            for k in 0..<kCount { joint[i * kCount + k] = exp(joint[i * kCount + k] - total) }
        }
        return (logLikelihoods, joint)
    }

    private func squaredDistance(_ x: Tensor, _ a: Int, _ b: Int, _ d: Int) -> Double {
        var s: Double = 0
        for j in 0..<d { let v = Double(x.data[a * d + j]) - Double(x.data[b * d + j]); s += v * v }
        return s
    }
}
