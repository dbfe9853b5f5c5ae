// Image-level ranking metrics: AUROC, ROC curve, average precision, PR curve.
//
// Conventions shared by every function here:
// - `scores[i]` is the anomaly score of sample i (higher = more anomalous), finite;
//   `labels[i]` is `true` when sample i is anomalous (the positive class).
// - A sample is predicted anomalous at threshold t when `score ≥ t`.
// - Both classes must be present, otherwise `MetricError.singleClass` is thrown.

/// Receiver operating characteristic curve, as sklearn's
/// `roc_curve(labels, scores, drop_intermediate=False)`.
///
/// Points are ordered by descending threshold. The first point is (FPR, TPR) = (0, 0) with
/// threshold `+infinity` (sklearn ≥ 1.3); every following point belongs to one distinct
/// score, in descending order, so the last point is (1, 1) at the lowest score.
public struct ROCCurve: Equatable, Sendable {
    /// False-positive rate FP / N at each threshold, non-decreasing, from 0 to 1.
    public var falsePositiveRates: [Double]
    /// True-positive rate (recall) TP / P at each threshold, non-decreasing, from 0 to 1.
    public var truePositiveRates: [Double]
    /// Thresholds, strictly descending; `thresholds[0]` is `+infinity`.
    public var thresholds: [Double]
}

/// Precision–recall curve, as sklearn's `precision_recall_curve(labels, scores)`.
///
/// `thresholds` are the distinct scores in ascending order; `precisions[i]` and `recalls[i]`
/// belong to `thresholds[i]`. Both curves carry one extra final point, precision 1 and
/// recall 0, which has no threshold. Nothing is truncated at full recall (sklearn ≥ 1.1).
public struct PrecisionRecallCurve: Equatable, Sendable {
    /// TP / (TP + FP) at each threshold, then 1.
    public var precisions: [Double]
    /// TP / P at each threshold (non-increasing), then 0.
    public var recalls: [Double]
    /// Distinct scores, strictly ascending; one fewer than `precisions`.
    public var thresholds: [Double]
}

/// The ROC curve of `scores` against `labels` (`true` = anomalous); see `ROCCurve`.
public func rocCurve(scores: [Double], labels: [Bool]) throws -> ROCCurve {
    let counts = try rankedCounts(scores: scores, labels: labels, metric: "ROC curve")
    let p = Double(counts.positives)
    let n = Double(counts.negatives)
    return ROCCurve(
        falsePositiveRates: [0] + counts.falsePositives.map { Double($0) / n },
        truePositiveRates: [0] + counts.truePositives.map { Double($0) / p },
        thresholds: [.infinity] + counts.thresholds)
}

/// Area under the ROC curve, as sklearn's `roc_auc_score(labels, scores)`.
///
/// Equals the probability that a random anomalous sample scores higher than a random normal
/// one, ties counted half (the Mann–Whitney U statistic over P·N). Computed by the trapezoid
/// rule over the ROC curve in exact integer counts, then one division.
public func auroc(scores: [Double], labels: [Bool]) throws -> Double {
    let counts = try rankedCounts(scores: scores, labels: labels, metric: "AUROC")
    return Double(counts.doubledROCArea) / (2 * Double(counts.positives) * Double(counts.negatives))
}

/// sAUC = 2·AUROC − 1, the AUROC rescaled to [−1, 1]: 0 is chance, 1 a perfect ranking,
/// −1 a perfectly inverted one (FathomNet's out-of-sample score).
public func scaledAUROC(scores: [Double], labels: [Bool]) throws -> Double {
    2 * (try auroc(scores: scores, labels: labels)) - 1
}

/// The precision–recall curve of `scores` against `labels`; see `PrecisionRecallCurve`.
public func precisionRecallCurve(scores: [Double], labels: [Bool]) throws -> PrecisionRecallCurve {
    let counts = try rankedCounts(scores: scores, labels: labels, metric: "PR curve")
    let p = Double(counts.positives)
    var precisions: [Double] = []
    var recalls: [Double] = []
    for i in counts.thresholds.indices.reversed() {
        let tp = Double(counts.truePositives[i])
        precisions.append(tp / (tp + Double(counts.falsePositives[i])))
        recalls.append(tp / p)
    }
    return PrecisionRecallCurve(precisions: precisions + [1], recalls: recalls + [0],
                                thresholds: counts.thresholds.reversed())
}

/// Average precision, as sklearn's `average_precision_score(labels, scores)`:
/// AP = Σᵢ (Rᵢ − Rᵢ₋₁)·Pᵢ over the distinct thresholds in descending order, R₀ = 0.
///
/// This is the step (right-Riemann) sum of the PR curve, not the trapezoid rule, so it is
/// not optimistic; tied scores form one step.
public func averagePrecision(scores: [Double], labels: [Bool]) throws -> Double {
    let counts = try rankedCounts(scores: scores, labels: labels, metric: "AP")
    let p = Double(counts.positives)
    var sum = 0.0
    var previousTP = 0
    for i in counts.thresholds.indices where counts.truePositives[i] != previousTP {
        let tp = counts.truePositives[i]
        let precision = Double(tp) / Double(tp + counts.falsePositives[i])
        sum += Double(tp - previousTP) / p * precision
        previousTP = tp
    }
    return sum
}

/// Validates the input, requires both classes, and ranks the scores.
func rankedCounts(scores: [Double], labels: [Bool], metric: String) throws -> ThresholdCounts {
    try validate(scores: scores, labels: labels)
    try requireBothClasses(labels, metric: metric)
    return ThresholdCounts(scores: scores, labels: labels)
}
