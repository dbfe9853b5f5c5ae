/// Mean average precision at k over ranked label lists (FathomNet / Kaggle `mapk`).
///
/// For query q with ranked predictions p₁…pₙ (only the first k count) and relevant set Rq:
/// AP@k(q) = Σᵢ precision@i · [pᵢ ∈ Rq and pᵢ not already among p₁…pᵢ₋₁] / min(|Rq|, k),
/// where precision@i = (correct distinct labels among p₁…pᵢ) / i. A repeated correct label
/// counts once but still occupies its rank. MAP@k is the mean of AP@k over all queries.
/// Every query needs at least one relevant label (`MetricError.noRelevantLabels`).
public func meanAveragePrecision<Label: Hashable>(
    rankings: [[Label]], relevant: [Set<Label>], k: Int = 20
) throws -> Double {
    guard !rankings.isEmpty else { throw MetricError.emptyInput(what: "rankings") }
    guard relevant.count == rankings.count else {
        throw MetricError.lengthMismatch(what: "relevant label sets (one per ranking)",
                                         expected: rankings.count, actual: relevant.count)
    }
    guard k > 0 else {
        throw MetricError.invalidParameter(name: "k", value: Double(k), reason: "must be positive")
    }
    var total = 0.0
    for (query, (ranking, truth)) in zip(rankings, relevant).enumerated() {
        guard !truth.isEmpty else { throw MetricError.noRelevantLabels(query: query) }
        var found = Set<Label>()
        var sum = 0.0
        for (rank, label) in ranking.prefix(k).enumerated() where truth.contains(label) {
            if found.insert(label).inserted {
                sum += Double(found.count) / Double(rank + 1)
            }
        }
        total += sum / Double(min(truth.count, k))
    }
    return total / Double(rankings.count)
}
