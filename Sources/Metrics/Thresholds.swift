// Decisions at a threshold: confusion matrix, F1-max, adaptive and percentile thresholds.
//
// A sample is predicted anomalous when its score is ≥ the threshold.

/// Confusion counts of binary decisions `score ≥ threshold → anomalous` against labels.
///
/// Ratios whose denominator is zero are 0 (sklearn's `zero_division=0`): precision with no
/// predicted anomalies, recall with no anomalous samples, F1 when both are empty.
public struct ConfusionMatrix: Equatable, Sendable {
    /// Anomalous samples predicted anomalous.
    public var truePositives: Int
    /// Normal samples predicted anomalous.
    public var falsePositives: Int
    /// Normal samples predicted normal.
    public var trueNegatives: Int
    /// Anomalous samples predicted normal.
    public var falseNegatives: Int

    public init(truePositives: Int, falsePositives: Int, trueNegatives: Int, falseNegatives: Int) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.trueNegatives = trueNegatives
        self.falseNegatives = falseNegatives
    }

    /// Counts the decisions `scores[i] ≥ threshold` against `labels[i]` (`true` = anomalous).
    /// One class alone is allowed here.
    public init(scores: [Double], labels: [Bool], threshold: Double) throws {
        try validate(scores: scores, labels: labels)
        guard !threshold.isNaN else {
            throw MetricError.invalidParameter(name: "threshold", value: threshold, reason: "NaN")
        }
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (score, anomalous) in zip(scores, labels) {
            switch (score >= threshold, anomalous) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        self.init(truePositives: tp, falsePositives: fp, trueNegatives: tn, falseNegatives: fn)
    }

    /// TP / (TP + FP), or 0 when nothing is predicted anomalous.
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    /// TP / (TP + FN), or 0 when no sample is anomalous.
    public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
    /// 2·TP / (2·TP + FP + FN), the harmonic mean of precision and recall; 0 when TP = FP = FN = 0.
    public var f1: Double {
        ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives)
    }
    /// (TP + TN) / all samples.
    public var accuracy: Double {
        ratio(truePositives + trueNegatives,
              truePositives + trueNegatives + falsePositives + falseNegatives)
    }

    private func ratio(_ numerator: Int, _ denominator: Int) -> Double {
        denominator == 0 ? 0 : Double(numerator) / Double(denominator)
    }
}

/// The best F1 over all thresholds and the threshold that reaches it.
public struct F1Max: Equatable, Sendable {
    /// Maximum of 2·TP / (2·TP + FP + FN) over the distinct scores used as thresholds.
    public var f1: Double
    /// The score at which `f1` is reached; the lowest such score when several tie.
    public var threshold: Double
    /// Precision at `threshold`.
    public var precision: Double
    /// Recall at `threshold`.
    public var recall: Double
}

/// F1-max, as anomalib's `F1Max` (and the threshold of its `F1AdaptiveThreshold`).
///
/// Every distinct score t is a candidate threshold (`score ≥ t → anomalous`); the result is the
/// largest F1 and its t, the lowest t among ties (anomalib takes the first `argmax` over
/// thresholds in ascending order). anomalib stops its precision–recall curve at full recall
/// and adds 1e-10 to the F1 denominator; neither changes the maximum: below full recall
/// F1 only falls, and in float32 the 1e-10 vanishes next to P + R.
/// Needs both classes (`MetricError.singleClass`).
public func f1Max(scores: [Double], labels: [Bool]) throws -> F1Max {
    let counts = try rankedCounts(scores: scores, labels: labels, metric: "F1-max")
    let positives = counts.positives
    var best = F1Max(f1: -1, threshold: 0, precision: 0, recall: 0)
    var bestDenominator = 1
    var bestNumerator = -1
    for i in counts.thresholds.indices {
        let tp = counts.truePositives[i]
        let fp = counts.falsePositives[i]
        // Compare 2·TP/(2·TP + FP + FN) exactly by cross-multiplying; ≥ keeps the lowest threshold.
        let numerator = 2 * tp
        let denominator = 2 * tp + fp + (positives - tp)
        if numerator * bestDenominator >= bestNumerator * denominator {
            bestNumerator = numerator
            bestDenominator = denominator
            best = F1Max(f1: Double(numerator) / Double(denominator), threshold: counts.thresholds[i],
                         precision: Double(tp) / Double(tp + fp),
                         recall: Double(tp) / Double(positives))
        }
    }
    return best
}

/// The F1-maximising threshold, as anomalib's `F1AdaptiveThreshold`, including its fallbacks
/// for a single class: with no anomalous sample it is the highest score, with no normal
/// sample the lowest score; otherwise `f1Max(scores:labels:).threshold`.
public func f1AdaptiveThreshold(scores: [Double], labels: [Bool]) throws -> Double {
    try validate(scores: scores, labels: labels)
    if !labels.contains(true) { return scores.max()! }
    if !labels.contains(false) { return scores.min()! }
    return try f1Max(scores: scores, labels: labels).threshold
}

/// The `percentile`-th percentile of the scores of normal (training) samples, as numpy's
/// `np.percentile(normalScores, percentile)` with the default linear interpolation:
/// sort ascending, h = (n − 1)·percentile/100, interpolate between the values at ⌊h⌋ and ⌈h⌉.
///
/// Used as a decision threshold fixed without anomalous samples: at the 95th percentile about
/// 5% of normal samples score ≥ the threshold. `percentile` lies in [0, 100].
public func percentileThreshold(normalScores: [Double], percentile: Double = 95) throws -> Double {
    guard !normalScores.isEmpty else { throw MetricError.emptyInput(what: "normal scores") }
    if let index = normalScores.firstIndex(where: { !$0.isFinite }) {
        throw MetricError.nonFiniteScore(index: index, value: normalScores[index])
    }
    guard percentile >= 0, percentile <= 100 else {
        throw MetricError.invalidParameter(name: "percentile", value: percentile,
                                           reason: "must lie in [0, 100]")
    }
    let sorted = normalScores.sorted()
    let position = Double(sorted.count - 1) * (percentile / 100)
    let lower = Int(position)  // ⌊h⌋, as h ≥ 0
    let upper = min(lower + 1, sorted.count - 1)
    let fraction = position - Double(lower)
    // numpy's `_lerp`: a + (b − a)·g, or b − (b − a)·(1 − g) when g ≥ 0.5, for exact endpoints.
    let a = sorted[lower]
    let b = sorted[upper]
    let difference = b - a
    return fraction >= 0.5 ? b - difference * (1 - fraction) : a + difference * fraction
}
