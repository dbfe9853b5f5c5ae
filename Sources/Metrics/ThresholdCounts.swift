/// Cumulative confusion counts at every distinct score, thresholds descending.
///
/// At `thresholds[i]` a sample is predicted anomalous when its score is ≥ `thresholds[i]`;
/// `truePositives[i]` and `falsePositives[i]` count the anomalous and normal samples so
/// predicted. This is sklearn's `_binary_clf_curve`: the last entry counts every sample.
struct ThresholdCounts {
    private(set) var thresholds: [Double] = []
    private(set) var truePositives: [Int] = []
    private(set) var falsePositives: [Int] = []

    var positives: Int { truePositives.last ?? 0 }
    var negatives: Int { falsePositives.last ?? 0 }

    /// `scores` finite and paired with `labels` (`true` = anomalous), as `validate` checks.
    init(scores: [Double], labels: [Bool]) {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0
        var fp = 0
        for (rank, index) in order.enumerated() {
            if labels[index] { tp += 1 } else { fp += 1 }
            let score = scores[index]
            if rank + 1 == order.count || scores[order[rank + 1]] != score {
                thresholds.append(score == 0 ? 0 : score)  // −0 and +0 are one threshold: +0
                truePositives.append(tp)
                falsePositives.append(fp)
            }
        }
    }

    /// Twice the area under the ROC curve in count units (FP × TP), exact in integers:
    /// the trapezoid rule over the points (0, 0), (fp[i], tp[i]), so tied scores count half.
    var doubledROCArea: Int {
        var area = 0
        var previousTP = 0
        var previousFP = 0
        for i in thresholds.indices {
            area += (falsePositives[i] - previousFP) * (truePositives[i] + previousTP)
            previousTP = truePositives[i]
            previousFP = falsePositives[i]
        }
        return area
    }
}
