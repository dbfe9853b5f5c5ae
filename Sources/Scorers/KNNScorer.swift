import Tensors

/// Image-level k-nearest-neighbour out-of-distribution scorer. An image
/// embedding (`[N, D]`, e.g. from ``globalAveragePool(_:)``) scores, by
/// ``Aggregate``, either the mean distance to its `k` nearest training
/// embeddings (the FathomNet OOD seed protocol: k = 100, cosine, scaled,
/// 95th-percentile threshold) or the distance to the k-th nearest after L2
/// normalisation (Sun et al., ICML 2022, OpenOOD's `KNNPostprocessor`).
///
/// Training scores are leave-one-out: each training embedding is scored
/// against the others, never itself. They give the optional min–max scaling
/// (`(s − min) / (max − min)` over training scores; test scores may leave
/// `[0, 1]`) and the threshold: the `thresholdPercentile`-th percentile of
/// training scores with numpy's default linear interpolation, in the same
/// units as ``score(_:)`` (scaled when scaling is on). A score above the
/// threshold flags an image as out of distribution.
public struct KNNScorer: Sendable {
    /// How the `k` neighbour distances of an embedding become its score.
    public enum Aggregate: String, Sendable, CaseIterable {
        /// Mean distance to the `k` nearest training embeddings, embeddings as given.
        case mean
        /// Distance to the `k`-th nearest training embedding, every embedding (training and
        /// test) L2-normalised first: Sun et al., "Out-of-distribution detection with deep
        /// nearest neighbors" (ICML 2022), OpenOOD's `KNNPostprocessor`. With `.euclidean`
        /// this is the paper's distance; OpenOOD's faiss `IndexFlatL2` reports its square
        /// (`.squaredEuclidean`), which ranks identically.
        case kth
    }

    public var k: Int
    public var metric: DistanceMetric
    public var aggregate: Aggregate
    /// Min–max scale scores by the training set's leave-one-out scores.
    public var scalesByTrainingScores: Bool
    /// Percentile (0–100) of training scores used as the threshold.
    public var thresholdPercentile: Double
    /// The faiss index test embeddings search; nil searches exactly. Leave-one-out
    /// training scores are always exact.
    public var approximateSearch: ApproximateSearch?

    /// The training index; nil before ``fit(_:)``.
    public private(set) var index: NearestNeighbourIndex?
    /// ``approximateSearch`` built over ``index``'s bank; nil when searching exactly.
    public private(set) var approximateIndex: ApproximateNeighbourIndex?
    /// Leave-one-out scores of the training embeddings, unscaled, `[N]`.
    public private(set) var trainingScores: [Float] = []
    /// The decision threshold in ``score(_:)`` units.
    public private(set) var threshold: Float = .nan

    public init(k: Int = 100, metric: DistanceMetric = .cosine, aggregate: Aggregate = .mean,
                scalesByTrainingScores: Bool = false, thresholdPercentile: Double = 95,
                approximateSearch: ApproximateSearch? = nil) {
        self.k = k
        self.metric = metric
        self.aggregate = aggregate
        self.scalesByTrainingScores = scalesByTrainingScores
        self.thresholdPercentile = thresholdPercentile
        self.approximateSearch = approximateSearch
    }

    /// Fits on training embeddings `[N, D]`; needs `N > k` for the leave-one-out scores.
    public mutating func fit(_ embeddings: Tensor) throws {
        guard thresholdPercentile >= 0 && thresholdPercentile <= 100 else {
            throw ScorerError.invalidParameter(name: "thresholdPercentile", value: "\(thresholdPercentile)",
                                               reason: "must be in [0, 100]")
        }
        let index = try NearestNeighbourIndex(bank: try prepared(embeddings, "embeddings"), metric: metric)
        trainingScores = aggregated(try index.searchLeavingOneOut(k: k))
        approximateIndex = try approximateSearch.map { try ApproximateNeighbourIndex($0, over: index) }
        self.index = index
        threshold = scaled(percentile(trainingScores, thresholdPercentile))
    }

    /// Installs saved training embeddings `[N, D]` and their unscaled leave-one-out scores `[N]`
    /// (from a fitted scorer's ``index`` and ``trainingScores``; the bank as the index holds
    /// it, L2-normalised for ``Aggregate/kth``) without searching again; builds
    /// ``approximateSearch``'s index again.
    public mutating func restore(bank: Tensor, trainingScores: [Float]) throws {
        let index = try NearestNeighbourIndex(bank: bank, metric: metric)
        guard trainingScores.count == index.count, k <= index.count else {
            throw ScorerError.invalidParameter(name: "training scores", value: "\(trainingScores.count) scores",
                                               reason: "need one per training embedding (\(index.count)) and k ≤ \(index.count)")
        }
        self.trainingScores = trainingScores
        approximateIndex = try approximateSearch.map { try ApproximateNeighbourIndex($0, over: index) }
        self.index = index
        threshold = scaled(percentile(trainingScores, thresholdPercentile))
    }

    /// Scores `[N, D]` test embeddings by ``aggregate`` (scaled when
    /// ``scalesByTrainingScores`` is set).
    public func score(_ embeddings: Tensor) throws -> [Float] {
        guard let index else { throw ScorerError.notFitted(scorer: "KNNScorer") }
        let queries = try prepared(embeddings, "embeddings")
        return aggregated(try approximateIndex?.search(queries, k: k) ?? index.search(queries, k: k))
            .map(scaled)
    }

    /// The leave-one-out training scores in ``score(_:)`` units (scaled when
    /// ``scalesByTrainingScores`` is set), `[N]`.
    public var scaledTrainingScores: [Float] { trainingScores.map(scaled) }

    /// Whether each score exceeds ``threshold``.
    public func isOutOfDistribution(_ scores: [Float]) -> [Bool] {
        scores.map { $0 > threshold }
    }

    private func prepared(_ embeddings: Tensor, _ argument: String) throws -> Tensor {
        guard aggregate == .kth else { return embeddings }
        try validateMatrix(embeddings, argument)
        return try l2Normalised(embeddings, argument)
    }

    private func aggregated(_ neighbours: Neighbours) -> [Float] {
        switch aggregate {
        case .mean: return neighbours.meanDistances
        case .kth: return (0..<neighbours.count).map { neighbours.distances[$0 * k + k - 1] }
        }
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
