// Out-of-distribution metrics as OpenOOD v1.5 reports them (`openood/evaluators/metrics.py`,
// `auc_and_fpr_recall`): FPR@95TPR, AUPR-In and AUPR-Out.
//
// Conventions are this module's: `scores[i]` higher = more anomalous (OOD), `labels[i]`
// `true` = anomalous/OOD, the positive class. OpenOOD's `conf` is the negated score (higher
// = more in-distribution); the definitions below are OpenOOD's restated in these terms.

/// The false-positive rate at the first point of the ROC curve whose true-positive rate
/// reaches `truePositiveRate` (default 0.95): the fraction of normal (in-distribution)
/// samples flagged when the threshold catches that share of the anomalous (OOD) ones.
///
/// Follows OpenOOD v1.5 exactly: `fpr[argmax(tpr >= 0.95)]` over sklearn's
/// `roc_curve(ood_indicator, score)` with its default `drop_intermediate=True`. That curve
/// leaves out points lying on a straight segment between their neighbours, so where the
/// 95 % crossing falls inside such a segment (e.g. tied scores mixing both classes, rank by
/// rank) the FPR is the segment end's, which can exceed the FPR at the highest threshold
/// whose TPR is ≥ 0.95. Thresholds are the distinct scores (`score ≥ t` flags a sample).
public func falsePositiveRate(scores: [Double], labels: [Bool], atTruePositiveRate truePositiveRate: Double = 0.95)
    throws -> Double {
    guard truePositiveRate >= 0, truePositiveRate <= 1 else {
        throw MetricError.invalidParameter(name: "truePositiveRate", value: truePositiveRate, reason: "must be in [0, 1]")
    }
    let counts = try rankedCounts(scores: scores, labels: labels, metric: "FPR@TPR")
    let tp = counts.truePositives, fp = counts.falsePositives
    let p = Double(counts.positives), n = Double(counts.negatives)
    // sklearn's drop_intermediate: keep the ends and every point where either cumulative
    // count changes its slope (a non-zero second difference); (0, 0) comes first.
    var kept = [0]
    if tp.count > 2 {
        for i in 1..<(tp.count - 1)
        where tp[i + 1] - 2 * tp[i] + tp[i - 1] != 0 || fp[i + 1] - 2 * fp[i] + fp[i - 1] != 0 {
            kept.append(i)
        }
        kept.append(tp.count - 1)
    } else {
        kept = Array(tp.indices)
    }
    if truePositiveRate <= 0 { return 0 }  // the (0, 0) point
    let first = kept.first { Double(tp[$0]) / p >= truePositiveRate }!  // the last point has TPR 1
    return Double(fp[first]) / n
}

/// AUPR-Out: the area under the precision–recall curve with anomalous (OOD) samples as the
/// positive class, ranked by score — OpenOOD's `auc(recall_out, precision_out)` over
/// sklearn's `precision_recall_curve(ood_indicator, score)`: the trapezoid rule over
/// every curve point including the final (recall 0, precision 1), not the step sum of `ap`.
public func areaUnderPROut(scores: [Double], labels: [Bool]) throws -> Double {
    trapezoidArea(try precisionRecallCurve(scores: scores, labels: labels))
}

/// AUPR-In: the area under the precision–recall curve with normal (in-distribution)
/// samples as the positive class, ranked by the negated score — OpenOOD's
/// `auc(recall_in, precision_in)` over `precision_recall_curve(1 - ood_indicator, conf)`
/// (`conf` = −score), trapezoid rule as `areaUnderPROut`.
public func areaUnderPRIn(scores: [Double], labels: [Bool]) throws -> Double {
    trapezoidArea(try precisionRecallCurve(scores: scores.map { -$0 }, labels: labels.map { !$0 }))
}

/// sklearn `auc(recall, precision)`: the trapezoid rule along the curve (recall falls from
/// its first to its last point, so the signed area is negated).
private func trapezoidArea(_ curve: PrecisionRecallCurve) -> Double {
    var area = 0.0
    for i in 1..<curve.recalls.count {
        area += (curve.recalls[i - 1] - curve.recalls[i]) * (curve.precisions[i - 1] + curve.precisions[i]) / 2
    }
    return area
}
