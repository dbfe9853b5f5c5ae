import Datasets
import Foundation
import Metrics
import Scorers
import Tensors

/// What the species classifier predicted for the test images, and how well.
struct ClassifierOutcome {
    /// Class index → category, the training split's categories (numeric order when every
    /// category is an integer, else text order).
    var categories: [String]
    /// Per test sample, in test order: the `top_k` most probable categories, most probable
    /// first (ties: lower class index first).
    var rankings: [[String]]
    /// FathomNet 2023's MAP@20 of `rankings` against the test samples' categories.
    var mapAt20: Double
}

/// Fits the one-vs-rest logistic probe on `dataset`'s training rows' global embeddings and ranks the categories of every test row; `features` are the dataset point's.
/// Every sample needs a value in the labels column.
func classify(_ spec: ClassifierSpec, dataset: LoadedDatasetPoint, features: FeatureSplits) throws -> ClassifierOutcome {
    let trainLabels = try dataset.train.map { try categoriesInLabelsColumn(of: $0, spec) }
    let testLabels = try dataset.test.map { try categoriesInLabelsColumn(of: $0, spec) }
    let known = Set(trainLabels.joined())
    let categories = known.allSatisfy { Int($0) != nil }
        ? known.sorted { Int($0)! < Int($1)! } : known.sorted()
    let index = [String: Int](uniqueKeysWithValues: categories.enumerated().map { ($1, $0) })

    var probe = LogisticProbe(regularization: spec.regularization)
    try probe.fit(features.features.embeddings(features.trainRows), labels: trainLabels.map { Set($0.map { index[$0]! }) },
                  classCount: categories.count)
    let rankings = try probe.probabilities(features.features.embeddings(features.testRows)).map { (probabilities: [Double]) -> [String] in
        let order = probabilities.indices.sorted { (a: Int, b: Int) -> Bool in
            probabilities[a] > probabilities[b] || (probabilities[a] == probabilities[b] && a < b)
        }
        return order.prefix(spec.topK).map { categories[$0] }
    }
    let mapAt20 = try meanAveragePrecision(rankings: rankings, relevant: testLabels.map { Set($0) }, k: 20)
    return ClassifierOutcome(categories: categories, rankings: rankings, mapAt20: mapAt20)
}

/// The categories in `sample`'s labels column, split by the separator (empty parts dropped).
private func categoriesInLabelsColumn(of sample: Sample, _ spec: ClassifierSpec) throws -> [String] {
    guard let value = sample.metadata[spec.labelsColumn] else {
        throw RunError("classifier.labels_column: sample \(sample.id) has no \"\(spec.labelsColumn)\" value "
                       + "(columns: \(sample.metadata.keys.sorted().joined(separator: ", ")))")
    }
    let text = value.description
    let parts = spec.separator.map { text.components(separatedBy: $0).filter { !$0.isEmpty } } ?? [text]
    guard !parts.isEmpty else {
        throw RunError("classifier.labels_column: sample \(sample.id) has no categories in \"\(spec.labelsColumn)\"")
    }
    return parts
}
