import Tensors

/// Image-level k-nearest-neighbour out-of-distribution scorer (as in the
/// FathomNet OOD work): an image embedding (`[N, D]`, e.g. from
/// ``globalAveragePool(_:)``) scores the mean distance to its `k` nearest
/// training embeddings.
///
/// Training scores are leave-one-out: each training embedding is scored
/// against the others, never itself. They give the optional min–max scaling
/// (`(s − min) / (max − min)` over training scores; test scores may leave
/// `[0, 1]`) and the threshold: the `thresholdPercentile`-th percentile of
/// training scores with numpy's default linear interpolation, in the same
/// units as ``score(_:)`` (scaled when scaling is on). A score above the
/// threshold flags an image as out of distribution.
public struct KNNScorer: Sendable {
    public var k: Int
    public var metric: DistanceMetric
    /// Min–max scale scores by the training set's leave-one-out scores.
    public var scalesByTrainingScores: Bool
    /// Percentile (0–100) of training scores used as the threshold.
    public var thresholdPercentile: Double

    /// The training index; nil before ``fit(_:)``.
    public private(set) var index: NearestNeighbourIndex?
    /// Leave-one-out scores of the training embeddings, unscaled, `[N]`.
    public private(set) var trainingScores: [Float] = []
    /// The decision threshold in ``score(_:)`` units.
    public private(set) var threshold: Float = .nan

    public init(k: Int = 100, metric: DistanceMetric = .cosine, scalesByTrainingScores: Bool = false,
                thresholdPercentile: Double = 95) {
        self.k = k
        self.metric = metric
        self.scalesByTrainingScores = scalesByTrainingScores
        self.thresholdPercentile = thresholdPercentile
    }

    /// Fits on training embeddings `[N, D]`; needs `N > k` for the leave-one-out scores.
    public mutating func fit(_ embeddings: Tensor) throws {
        guard thresholdPercentile >= 0 && thresholdPercentile <= 100 else {
            throw ScorerError.invalidParameter(name: "thresholdPercentile", value: "\(thresholdPercentile)",
                                               reason: "must be in [0, 100]")
        }
        let index = try NearestNeighbourIndex(bank: embeddings, metric: metric)
        trainingScores = try index.searchLeavingOneOut(k: k).meanDistances
        self.index = index
        threshold = scaled(percentile(trainingScores, thresholdPercentile))
    }

    /// Installs saved training embeddings `[N, D]` and their leave-one-out scores `[N]`
    /// (from a fitted scorer's ``index`` and ``trainingScores``) without searching again.
    public mutating func restore(bank: Tensor, trainingScores: [Float]) throws {
        let index = try NearestNeighbourIndex(bank: bank, metric: metric)
        guard trainingScores.count == index.count, k <= index.count else {
            throw ScorerError.invalidParameter(name: "training scores", value: "\(trainingScores.count) scores",
                                               reason: "need one per training embedding (\(index.count)) and k ≤ \(index.count)")
        }
        self.trainingScores = trainingScores
        self.index = index
        threshold = scaled(percentile(trainingScores, thresholdPercentile))
    }

    /// Scores `[N, D]` test embeddings: mean distance to the `k` nearest training embeddings.
    public func score(_ embeddings: Tensor) throws -> [Float] {
        guard let index else { throw ScorerError.notFitted(scorer: "KNNScorer") }
        return try index.search(embeddings, k: k).meanDistances.map(scaled)
    }

    /// Whether each score exceeds ``threshold``.
    public func isOutOfDistribution(_ scores: [Float]) -> [Bool] {
        scores.map { $0 > threshold }
    }

    private func scaled(_ s: Float) -> Float {
        guard scalesByTrainingScores, let low = trainingScores.min(), let high = trainingScores.max(), high > low
        else { return s }
        return (s - low) / (high - low)
    }
}

/// numpy `percentile(values, q)` with the default `linear` method:
/// position `q/100 · (n − 1)` in the sorted values, interpolated linearly.
public func percentile(_ values: [Float], _ q: Double) -> Float {
    precondition(!values.isEmpty, "percentile of no values")
    let sorted = values.sorted()
    let position = q / 100 * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
    let fraction = position - Double(lower)
    return Float(Double(sorted[lower]) + (Double(sorted[upper]) - Double(sorted[lower])) * fraction)
}
