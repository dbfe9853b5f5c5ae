import Foundation
import Scorers
import Tensors

/// Uniform Manifold Approximation and Projection to 2-D (McInnes, Healy & Melville 2018),
/// following umap-learn's `fit` with a euclidean metric:
///
/// 1. the fuzzy simplicial set on the exact `neighbours`-nearest-neighbour graph
///    (``FuzzySimplicialSet``, `NearestNeighbourIndex`);
/// 2. edges weaker than max weight / epochs dropped; edge `e` is sampled every
///    `max weight / wₑ` epochs;
/// 3. initial layout: the PCA projection scaled to a largest magnitude of 10, plus
///    N(0, 1e-4) noise, then each axis rescaled to [0, 10] (umap-learn's `init="pca"`;
///    its default spectral initialisation is not implemented);
/// 4. stochastic gradient descent on the fuzzy cross-entropy: an attractive step along each
///    sampled edge moving both ends, `negativeSampleRate` repulsive steps from uniformly drawn
///    points per edge sample, gradients clipped to ±4, learning rate decaying linearly from
///    `learningRate` to 0 (``LowDimensionalCurve`` gives the similarity's `a, b`).
///
/// The descent is single-threaded and draws every random number from one `SeededRandom`:
/// the same input and seed give the same layout bit for bit.
public struct UMAP: Sendable {
    /// Neighbours per point, the point itself included (umap-learn's `n_neighbors`).
    public var neighbours: Int
    /// Smallest distance between points in the layout (`min_dist`).
    public var minDistance: Double
    /// Scale of the layout's distances (`spread`).
    public var spread: Double
    /// Passes over the edges; nil: 500 for up to 10,000 points, else 200 (umap-learn).
    public var epochs: Int?
    /// Repulsive samples per attractive one (`negative_sample_rate`).
    public var negativeSampleRate: Int
    /// Initial SGD step (`learning_rate`).
    public var learningRate: Double
    public var seed: UInt64

    public init(neighbours: Int = 15, minDistance: Double = 0.1, spread: Double = 1, epochs: Int? = nil,
                negativeSampleRate: Int = 5, learningRate: Double = 1, seed: UInt64 = 0) {
        self.neighbours = neighbours
        self.minDistance = minDistance
        self.spread = spread
        self.epochs = epochs
        self.negativeSampleRate = negativeSampleRate
        self.learningRate = learningRate
        self.seed = seed
    }

    /// The 2-D layout `[N, 2]` of `points` (`[N, D]`, finite, `N > neighbours`; with fewer
    /// points every other point is a neighbour, as umap-learn truncates `n_neighbors`).
    public func embed(_ points: Tensor) throws -> Tensor {
        try validateParameters()
        try validatePoints(points, minimumRows: 2)
        let n = points.shape[0]
        let graph = try FuzzySimplicialSet(points: points, neighbours: min(neighbours, n))
        let epochCount = epochs ?? (n <= 10_000 ? 500 : 200)
        var rng = SeededRandom(seed: seed)
        var layout = try initialLayout(points, rng: &rng)
        optimise(&layout, graph: graph, epochs: epochCount, rng: &rng)
        return Tensor(shape: [n, 2], data: layout)
    }

    private func validateParameters() throws {
        func check(_ ok: Bool, _ name: String, _ value: String, _ reason: String) throws {
            guard ok else { throw ProjectionError.invalidParameter(name: name, value: value, reason: reason) }
        }
        try check(neighbours >= 2, "neighbours", "\(neighbours)", "must be at least 2")
        try check(minDistance >= 0 && minDistance.isFinite, "minDistance", "\(minDistance)", "must be ≥ 0")
        try check(spread > 0 && spread.isFinite && minDistance <= spread, "spread", "\(spread)",
                  "must be positive and at least minDistance")
        try check((epochs ?? 1) >= 1, "epochs", epochs.map(String.init) ?? "nil", "must be at least 1")
        try check(negativeSampleRate >= 0, "negativeSampleRate", "\(negativeSampleRate)", "must be ≥ 0")
        try check(learningRate > 0 && learningRate.isFinite, "learningRate", "\(learningRate)", "must be positive")
    }

    /// PCA coordinates scaled to a largest magnitude of 10, jittered by N(0, 1e-4), then
    /// each axis mapped to [0, 10]: `[N · 2]`, row-major.
    private func initialLayout(_ points: Tensor, rng: inout SeededRandom) throws -> [Float] {
        let projected = try PCA(fitting: points, components: min(2, points.shape[1])).transform(points)
        let n = points.shape[0]
        var layout = [Double](repeating: 0, count: n * 2)
        let columns = projected.shape[1]
        for r in 0..<n { for c in 0..<columns { layout[r * 2 + c] = Double(projected.data[r * columns + c]) } }
        let largest = layout.map(abs).max()!
        let expansion = largest > 0 ? 10 / largest : 1
        layout = layout.map { $0 * expansion + 1e-4 * rng.nextGaussian() }
        for c in 0..<2 {
            let column = (0..<n).map { layout[$0 * 2 + c] }
            let (low, high) = (column.min()!, column.max()!)
            let range = high > low ? high - low : 1
            for r in 0..<n { layout[r * 2 + c] = 10 * (layout[r * 2 + c] - low) / range }
        }
        return layout.map(Float.init)
    }

    /// umap-learn's `optimize_layout_euclidean` (single-threaded, `move_other`), with
    /// `layout` as both head and tail embedding.
    private func optimise(_ layout: inout [Float], graph: FuzzySimplicialSet, epochs: Int,
                          rng: inout SeededRandom) {
        let curve = LowDimensionalCurve(minDistance: minDistance, spread: spread)
        let (a, b) = (Float(curve.a), Float(curve.b))
        let n = graph.count
        // Edges below max weight / epochs would be sampled less than once: drop them.
        let strongest = graph.weights.max() ?? 0
        let kept = graph.weights.indices.filter { graph.weights[$0] >= strongest / Double(epochs) }
        let heads = kept.map { graph.heads[$0] }, tails = kept.map { graph.tails[$0] }
        let epochsPerSample = kept.map { strongest / graph.weights[$0] }
        let epochsPerNegativeSample = epochsPerSample.map { $0 / Double(negativeSampleRate) }
        var nextSample = epochsPerSample
        var nextNegativeSample = epochsPerNegativeSample
        func clip(_ x: Float) -> Float { min(4, max(-4, x)) }

        layout.withUnsafeMutableBufferPointer { y in
            var alpha = Float(learningRate)
            for epoch in 0..<epochs {
                let now = Double(epoch)
                for e in kept.indices where nextSample[e] <= now {
                    let (j, k) = (heads[e], tails[e])
                    var dx = y[2 * j] - y[2 * k], dy = y[2 * j + 1] - y[2 * k + 1]
                    var squared = dx * dx + dy * dy
                    var coefficient: Float = 0
                    if squared > 0 {
                        coefficient = -2 * a * b * powf(squared, b - 1) / (a * powf(squared, b) + 1)
                    }
                    let (gx, gy) = (clip(coefficient * dx) * alpha, clip(coefficient * dy) * alpha)
                    y[2 * j] += gx; y[2 * j + 1] += gy
                    y[2 * k] -= gx; y[2 * k + 1] -= gy
                    nextSample[e] += epochsPerSample[e]

                    let negatives = negativeSampleRate == 0
                        ? 0 : Int((now - nextNegativeSample[e]) / epochsPerNegativeSample[e])
                    for _ in 0..<max(0, negatives) {
                        let other = Int(rng.next() % UInt64(n))
                        dx = y[2 * j] - y[2 * other]; dy = y[2 * j + 1] - y[2 * other + 1]
                        squared = dx * dx + dy * dy
                        guard squared > 0 else { continue }   // itself, or a point on top of it
                        coefficient = 2 * b / ((0.001 + squared) * (a * powf(squared, b) + 1))
                        y[2 * j] += clip(coefficient * dx) * alpha
                        y[2 * j + 1] += clip(coefficient * dy) * alpha
                    }
                    nextNegativeSample[e] += Double(max(0, negatives)) * epochsPerNegativeSample[e]
                }
                alpha = Float(learningRate * (1 - Double(epoch) / Double(epochs)))
            }
        }
    }
}
