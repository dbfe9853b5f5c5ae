import Tensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One-class SVM (Schölkopf et al., 2001) with an RBF kernel `K(a, b) = exp(−γ‖a − b‖²)`
/// on training embeddings `[N, D]`, solved as libsvm (and so sklearn `OneClassSVM`) does.
///
/// Dual: minimise `½ αᵀQα` with `Qᵢⱼ = K(xᵢ, xⱼ)`, subject to `0 ≤ αᵢ ≤ 1` and
/// `Σαᵢ = ν·N`, starting from libsvm's point (the first `⌊νN⌋` αs at 1, the next at the
/// remainder). SMO with libsvm's second-order working-set selection (Fan, Chen and Lin,
/// 2005), stopping when the maximal KKT violation is below `tolerance` (sklearn's default
/// 1e-3); no shrinking. `ρ` is the mean gradient over free αs (libsvm `calculate_rho`).
///
/// ``decisionFunction(_:)`` is sklearn's `decision_function`, `Σαᵢ K(xᵢ, x) − ρ`
/// (positive = inlier); ``score(_:)`` is its negation, so larger is more anomalous.
/// `γ = .scale` is sklearn's `"scale"`: `1 / (D · Var(X))`, the variance over every entry
/// of the training matrix (γ = 1 when that variance is 0).
///
/// Fitting holds the `N × N` kernel matrix (4N² bytes) and computes it with one GEMM.
public struct OneClassSVMScorer: Sendable {
    public enum Gamma: Hashable, Sendable {
        /// sklearn's `"scale"`: `1 / (D · Var(X))`.
        case scale
        /// A fixed `γ > 0`, in inverse squared feature units.
        case value(Double)
    }

    /// Upper bound on the share of training outliers and lower bound on the share of
    /// support vectors, in (0, 1].
    public var nu: Double
    public var gamma: Gamma
    /// Stopping tolerance on the maximal KKT violation (libsvm `eps`).
    public var tolerance: Double

    /// The γ used, after resolving `.scale`; nil before ``fit(_:)``.
    public private(set) var fittedGamma: Double?
    /// Offset `ρ` of the decision function.
    public private(set) var rho: Double = 0
    /// `αᵢ > 0` of the support vectors, in training order.
    public private(set) var dualCoefficients: [Double] = []
    /// Indices of the support vectors among the training rows.
    public private(set) var supportIndices: [Int] = []
    /// SMO iterations run.
    public private(set) var iterations = 0
    /// Support vectors minus the training mean, row-major `[S, D]` (the kernel is
    /// translation invariant; centring keeps the GEMM's cancellation small).
    private var supportVectors: [Float] = []
    private var supportSquaredNorms: [Double] = []
    private var trainingMean: [Double] = []

    public init(nu: Double = 0.5, gamma: Gamma = .scale, tolerance: Double = 1e-3) {
        self.nu = nu
        self.gamma = gamma
        self.tolerance = tolerance
    }

    /// Solves the dual on `[N, D]` training embeddings.
    public mutating func fit(_ x: Tensor) throws {
        try validateMatrix(x, "one-class SVM training embeddings")
        guard nu > 0 && nu <= 1 else {
            throw ScorerError.invalidParameter(name: "nu", value: "\(nu)", reason: "must be in (0, 1]")
        }
        guard tolerance > 0 else {
            throw ScorerError.invalidParameter(name: "tolerance", value: "\(tolerance)", reason: "must be > 0")
        }
        let (n, d) = (x.shape[0], x.shape[1])
        let resolvedGamma: Double
        switch gamma {
        case .value(let value):
            guard value > 0 && value.isFinite else {
                throw ScorerError.invalidParameter(name: "gamma", value: "\(value)", reason: "must be a finite number > 0")
            }
            resolvedGamma = value
        case .scale:
            let variance = totalVariance(x.data)
            resolvedGamma = variance > 0 ? 1 / (Double(d) * variance) : 1
        }
        trainingMean = x.data.withUnsafeBufferPointer { LinearAlgebra.columnMeans($0.baseAddress!, rows: n, d: d) }
        let centred = centre(x)
        let norms = squaredNorms(centred, rows: n, d: d)
        let kernel = rbfKernel(centred, norms, rows: n, centred, norms, rows: n, d: d, gamma: resolvedGamma)

        var solver = DualSolver(kernel: kernel, count: n, nu: nu, tolerance: tolerance)
        solver.solve()
        iterations = solver.iterations
        rho = solver.rho()
        supportIndices = (0..<n).filter { solver.alpha[$0] > 0 }
        dualCoefficients = supportIndices.map { solver.alpha[$0] }
        supportVectors = supportIndices.flatMap { centred[$0 * d ..< ($0 + 1) * d] }
        supportSquaredNorms = supportIndices.map { norms[$0] }
        fittedGamma = resolvedGamma
    }

    /// What scoring needs after ``fit(_:)`` (what `model.h5` stores): γ, ρ, the dual
    /// coefficients and the support vectors minus the training mean; nil before fitting.
    public var support: Support? {
        fittedGamma.map { Support(gamma: $0, rho: rho, coefficients: dualCoefficients,
                                  centredVectors: supportVectors, trainingMean: trainingMean) }
    }

    /// A fitted one-class SVM's decision function: `Σαᵢ exp(−γ‖xᵢ − x‖²) − ρ` over the
    /// support vectors `xᵢ`, stored minus the training mean (the kernel is translation
    /// invariant), so a restored scorer scores bit for bit as the fitted one.
    public struct Support: Sendable {
        /// γ, in inverse squared feature units.
        public var gamma: Double
        public var rho: Double
        /// `αᵢ > 0`, one per support vector.
        public var coefficients: [Double]
        /// Support vectors minus `trainingMean`, row-major `[S, D]`.
        public var centredVectors: [Float]
        /// Column means of the training embeddings, `[D]`.
        public var trainingMean: [Double]

        public init(gamma: Double, rho: Double, coefficients: [Double], centredVectors: [Float], trainingMean: [Double]) {
            self.gamma = gamma
            self.rho = rho
            self.coefficients = coefficients
            self.centredVectors = centredVectors
            self.trainingMean = trainingMean
        }
    }

    /// Sets the fitted state from `support` (e.g. read from `model.h5`); the support
    /// vectors' training indices are not restored (``supportIndices`` is empty).
    public mutating func restore(_ support: Support) throws {
        let (s, d) = (support.coefficients.count, support.trainingMean.count)
        guard s >= 1, d >= 1, support.centredVectors.count == s * d, support.gamma > 0, support.gamma.isFinite,
              support.rho.isFinite, support.coefficients.allSatisfy({ $0 > 0 && $0.isFinite }),
              support.trainingMean.allSatisfy(\.isFinite), support.centredVectors.allSatisfy(\.isFinite) else {
            throw ScorerError.invalidParameter(
                name: "one-class SVM support", value: "\(s) coefficients, \(support.centredVectors.count) vector values, D = \(d), γ = \(support.gamma)",
                reason: "needs S ≥ 1 positive coefficients, S × D finite vector values, finite ρ and γ > 0")
        }
        fittedGamma = support.gamma
        rho = support.rho
        dualCoefficients = support.coefficients
        supportVectors = support.centredVectors
        supportSquaredNorms = squaredNorms(support.centredVectors, rows: s, d: d)
        trainingMean = support.trainingMean
        supportIndices = []
        iterations = 0
    }

    /// sklearn `decision_function` of each row of `[N, D]`: `Σαᵢ K(xᵢ, x) − ρ`, positive
    /// inside the learned support.
    public func decisionFunction(_ x: Tensor) throws -> [Double] {
        guard let fittedGamma else { throw ScorerError.notFitted(scorer: "OneClassSVMScorer") }
        try validateMatrix(x, "one-class SVM test embeddings")
        let d = trainingMean.count
        guard x.shape[1] == d else {
            throw ScorerError.badShape(argument: "one-class SVM test embeddings", shape: x.shape, expected: "[N, \(d)]")
        }
        let n = x.shape[0], s = dualCoefficients.count
        let centred = centre(x)
        let kernel = rbfKernel(centred, squaredNorms(centred, rows: n, d: d), rows: n,
                               supportVectors, supportSquaredNorms, rows: s, d: d, gamma: fittedGamma)
        return (0..<n).map { i in
            var sum: Double = 0
            for j in 0..<s { sum += dualCoefficients[j] * Double(kernel[i * s + j]) }
            return sum - rho
        }
    }

    /// Anomaly score of each row of `[N, D]`: `ρ − Σαᵢ K(xᵢ, x)` (the negated decision value).
    public func score(_ x: Tensor) throws -> [Float] {
        try decisionFunction(x).map { Float(-$0) }
    }

    /// The rows of `[N, D]` minus the training mean.
    private func centre(_ x: Tensor) -> [Float] {
        x.data.withUnsafeBufferPointer {
            LinearAlgebra.centred($0.baseAddress!, rows: x.shape[0], d: x.shape[1], mean: trainingMean)
        }
    }
}

/// Variance of all entries (numpy `X.var()`), in Double.
private func totalVariance(_ x: [Float]) -> Double {
    let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
    return x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count)
}

private func squaredNorms(_ x: [Float], rows: Int, d: Int) -> [Double] {
    (0..<rows).map { r in
        var s: Double = 0
        for j in 0..<d { s += Double(x[r * d + j]) * Double(x[r * d + j]) }
        return s
    }
}

/// `exp(−γ‖aᵢ − bⱼ‖²)` as `[rowsA, rowsB]` Float (libsvm caches kernel rows as float too),
/// distances from one GEMM as `‖a‖² + ‖b‖² − 2a·b`, clamped at 0.
private func rbfKernel(_ a: [Float], _ aNorms: [Double], rows rowsA: Int,
                       _ b: [Float], _ bNorms: [Double], rows rowsB: Int, d: Int, gamma: Double) -> [Float] {
    var dots = LinearAlgebra.timesTransposed(a, rows: rowsA, b, rows: rowsB, d: d)
    for i in 0..<rowsA {
        for j in 0..<rowsB {
            let distance = max(0, aNorms[i] + bNorms[j] - 2 * Double(dots[i * rowsB + j]))
            dots[i * rowsB + j] = Float(exp(-gamma * distance))
        }
    }
    return dots
}

/// libsvm's `Solver` specialised to the one-class problem: all labels +1, no linear term,
/// every upper bound 1.
private struct DualSolver {
    private enum Bound { case lower, upper, free }

    let kernel: [Float]
    let count: Int
    let tolerance: Double
    private(set) var alpha: [Double]
    private var gradient: [Double]
    private var status: [Bound]
    private(set) var iterations = 0
    /// libsvm's τ, the curvature used when a pair's is not positive.
    private let tau = 1e-12

    init(kernel: [Float], count: Int, nu: Double, tolerance: Double) {
        self.kernel = kernel
        self.count = count
        self.tolerance = tolerance
        let total = nu * Double(count)
        let whole = Int(total)
        alpha = (0..<count).map { $0 < whole ? 1 : $0 == whole ? total - Double(whole) : 0 }
        gradient = [Double](repeating: 0, count: count)
        status = alpha.map(Self.bound)
        for j in 0..<count where alpha[j] != 0 {
            for k in 0..<count { gradient[k] += alpha[j] * Double(kernel[j * count + k]) }
        }
    }

    private static func bound(_ a: Double) -> Bound { a >= 1 ? .upper : a <= 0 ? .lower : .free }

    mutating func solve() {
        let maxIterations = max(10_000_000, 100 * count)
        while iterations < maxIterations, let pair = workingSet() {
            let (i, j) = pair
            iterations += 1
            let rowI = i * count, rowJ = j * count
            var curvature = Double(kernel[rowI + i]) + Double(kernel[rowJ + j]) - 2 * Double(kernel[rowI + j])
            if curvature <= 0 { curvature = tau }
            let (oldI, oldJ) = (alpha[i], alpha[j])
            let delta = (gradient[i] - gradient[j]) / curvature
            let sum = oldI + oldJ
            var (newI, newJ) = (oldI - delta, oldJ + delta)
            if sum > 1 {
                if newI > 1 { (newI, newJ) = (1, sum - 1) }
            } else if newJ < 0 {
                (newI, newJ) = (sum, 0)
            }
            if sum > 1 {
                if newJ > 1 { (newI, newJ) = (sum - 1, 1) }
            } else if newI < 0 {
                (newI, newJ) = (0, sum)
            }
            (alpha[i], alpha[j]) = (newI, newJ)
            status[i] = Self.bound(newI)
            status[j] = Self.bound(newJ)
            let (deltaI, deltaJ) = (newI - oldI, newJ - oldJ)
            for k in 0..<count {
                gradient[k] += Double(kernel[rowI + k]) * deltaI + Double(kernel[rowJ + k]) * deltaJ
            }
        }
    }

    /// libsvm's WSS 3: `i` maximises `−∇ᵢ` among αs that can grow, `j` minimises the
    /// second-order objective decrease among αs that can shrink; nil when the maximal
    /// violation `max(−∇ᵢ) + max(∇ⱼ)` is below the tolerance.
    private func workingSet() -> (Int, Int)? {
        var largest = -Double.infinity, i = -1
        for t in 0..<count where status[t] != .upper && -gradient[t] >= largest {
            largest = -gradient[t]
            i = t
        }
        var largestJ = -Double.infinity, j = -1, bestDecrease = Double.infinity
        for t in 0..<count where status[t] != .lower {
            let difference = largest + gradient[t]
            if gradient[t] >= largestJ { largestJ = gradient[t] }
            if difference > 0 {
                let curvature = Double(kernel[i * count + i]) + Double(kernel[t * count + t])
                    - 2 * Double(kernel[i * count + t])
                let decrease = -(difference * difference) / (curvature > 0 ? curvature : tau)
                if decrease <= bestDecrease { (j, bestDecrease) = (t, decrease) }
            }
        }
        return largest + largestJ < tolerance || j == -1 ? nil : (i, j)
    }

    /// libsvm `calculate_rho`: the mean gradient over free αs, else the midpoint of the
    /// bounds the bounded αs give.
    func rho() -> Double {
        var upperLimit = Double.infinity, lowerLimit = -Double.infinity, freeSum: Double = 0, free = 0
        for t in 0..<count {
            switch status[t] {
            case .upper: lowerLimit = max(lowerLimit, gradient[t])
            case .lower: upperLimit = min(upperLimit, gradient[t])
            case .free: free += 1; freeSum += gradient[t]
            }
        }
        return free > 0 ? freeSum / Double(free) : (upperLimit + lowerLimit) / 2
    }
}
