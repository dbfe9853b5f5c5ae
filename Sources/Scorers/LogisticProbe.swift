import Tensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Multi-label linear probe: one-vs-rest L2-regularised logistic regression on embeddings
/// `[N, D]`, one binary model per class (a sample may carry several classes).
///
/// For class c with targets `yᵢ ∈ {0, 1}` it minimises
/// `(1/N) Σᵢ log(1 + exp(−sᵢ (wᵀxᵢ + b))) + (λ/2) ‖w‖²` (`sᵢ = 2yᵢ − 1`, intercept `b`
/// not penalised), which is sklearn `LogisticRegression(C = 1 / (N·λ))` with its default
/// L2 penalty and an unpenalised intercept (sklearn minimises `½‖w‖² + C Σ log-loss`).
/// Solved by damped Newton: the Hessian from one float GEMM, the gradient and objective in
/// Double, steps halved until the objective decreases; stops when the gradient's largest
/// entry is below `tolerance`. A class no training sample carries (or every sample does)
/// has no finite optimum; its model is `w = 0` with `b = −∞` (probability 0), respectively
/// `b = +∞` (probability 1).
public struct LogisticProbe: Sendable {
    /// λ, the L2 penalty per training sample, > 0.
    public var regularization: Double
    /// Largest allowed gradient entry at the optimum.
    public var tolerance: Double
    public var maxIterations: Int

    /// Weights `[K][D]`; empty before ``fit(_:labels:classCount:)``.
    public private(set) var coefficients: [[Double]] = []
    /// Intercepts `[K]`.
    public private(set) var intercepts: [Double] = []
    /// Newton iterations of each class's fit `[K]`.
    public private(set) var iterations: [Int] = []

    public init(regularization: Double = 1e-3, tolerance: Double = 1e-8, maxIterations: Int = 100) {
        self.regularization = regularization
        self.tolerance = tolerance
        self.maxIterations = maxIterations
    }

    /// Fits one model per class `0..<classCount` on `[N, D]` embeddings; `labels[i]` holds
    /// the classes of sample i.
    public mutating func fit(_ x: Tensor, labels: [Set<Int>], classCount: Int) throws {
        try validateMatrix(x, "logistic probe training embeddings")
        guard regularization > 0 && regularization.isFinite else {
            throw ScorerError.invalidParameter(name: "regularization", value: "\(regularization)",
                                               reason: "must be a finite number > 0")
        }
        guard labels.count == x.shape[0] else {
            throw ScorerError.badShape(argument: "logistic probe labels", shape: [labels.count],
                                       expected: "[\(x.shape[0])] (one label set per embedding)")
        }
        guard classCount >= 1, labels.allSatisfy({ $0.allSatisfy { (0..<classCount).contains($0) } }) else {
            throw ScorerError.invalidParameter(name: "labels", value: "\(classCount) classes",
                                               reason: "every label must be in 0..<classCount")
        }
        coefficients = []
        intercepts = []
        iterations = []
        for c in 0..<classCount {
            let targets = labels.map { $0.contains(c) }
            let (w, b, steps) = fitBinary(x, targets)
            coefficients.append(w)
            intercepts.append(b)
            iterations.append(steps)
        }
    }

    /// `σ(wₖᵀx + bₖ)` of each row of `[N, D]` and class, `[N][K]`.
    public func probabilities(_ x: Tensor) throws -> [[Double]] {
        guard let d = coefficients.first?.count else { throw ScorerError.notFitted(scorer: "LogisticProbe") }
        try validateMatrix(x, "logistic probe embeddings")
        guard x.shape[1] == d else {
            throw ScorerError.badShape(argument: "logistic probe embeddings", shape: x.shape, expected: "[N, \(d)]")
        }
        return (0..<x.shape[0]).map { i in
            zip(coefficients, intercepts).map { w, b in sigmoid(linear(x.data, row: i, w, b)) }
        }
    }

    /// Minimises the binary objective; returns weights, intercept and Newton iterations.
    private func fitBinary(_ x: Tensor, _ targets: [Bool]) -> ([Double], Double, Int) {
        let (n, d) = (x.shape[0], x.shape[1])
        var w = [Double](repeating: 0, count: d), b = 0.0
        let positives = targets.filter { $0 }.count
        guard positives > 0 && positives < n else { return (w, positives == 0 ? -.infinity : .infinity, 0) }
        var value = objective(x, targets, w, b)
        var step = 0
        while step < maxIterations {
            let (gradient, curvature) = derivatives(x, targets, w, b)
            if gradient.map(abs).max()! < tolerance { break }
            step += 1
            var hessian = curvature
            guard LinearAlgebra.choleskyInPlace(&hessian, n: d + 1) else { break }
            let direction = LinearAlgebra.solveCholesky(hessian, gradient, n: d + 1)
            var scale = 1.0
            while true {
                let candidateW = (0..<d).map { w[$0] - scale * direction[$0] }
                let candidateB = b - scale * direction[d]
                let candidate = objective(x, targets, candidateW, candidateB)
                if candidate <= value || scale < 1e-10 {
                    (w, b, value) = (candidateW, candidateB, candidate)
                    break
                }
                scale /= 2
            }
        }
        return (w, b, step)
    }

    /// `(1/N) Σ log(1 + exp(−s·z)) + (λ/2)‖w‖²`.
    private func objective(_ x: Tensor, _ targets: [Bool], _ w: [Double], _ b: Double) -> Double {
        var loss = 0.0
        for i in 0..<targets.count {
            let margin = (targets[i] ? 1.0 : -1.0) * linear(x.data, row: i, w, b)
            loss += margin > 0 ? log1p(exp(-margin)) : -margin + log1p(exp(margin))
        }
        return loss / Double(targets.count) + regularization / 2 * w.reduce(0) { $0 + $1 * $1 }
    }

    /// Gradient `[D + 1]` (intercept last) and Hessian `[(D + 1)²]` of the objective.
    private func derivatives(_ x: Tensor, _ targets: [Bool], _ w: [Double], _ b: Double) -> ([Double], [Double]) {
        let (n, d) = (x.shape[0], x.shape[1])
        var gradient = [Double](repeating: 0, count: d + 1)
        var scaled = [Float](repeating: 0, count: n * (d + 1))   // rows [xᵢ, 1] · √(pᵢ(1 − pᵢ)/N)
        for i in 0..<n {
            let p = sigmoid(linear(x.data, row: i, w, b))
            let residual = (p - (targets[i] ? 1 : 0)) / Double(n)
            let root = (p * (1 - p) / Double(n)).squareRoot()
            for j in 0..<d {
                let value = Double(x.data[i * d + j])
                gradient[j] += residual * value
                scaled[i * (d + 1) + j] = Float(root * value)
            }
            gradient[d] += residual
            scaled[i * (d + 1) + d] = Float(root)
        }
        var hessian = LinearAlgebra.gram(scaled, rows: n, d: d + 1)
        for j in 0..<d {
            gradient[j] += regularization * w[j]
            hessian[j * (d + 1) + j] += regularization
        }
        return (gradient, hessian)
    }
}

private func linear(_ x: [Float], row: Int, _ w: [Double], _ b: Double) -> Double {
    let d = w.count
    var z = b
    for j in 0..<d { z += w[j] * Double(x[row * d + j]) }
    return z
}

private func sigmoid(_ z: Double) -> Double {
    z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
}
