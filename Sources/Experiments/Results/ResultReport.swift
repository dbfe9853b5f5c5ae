import Datasets
import Foundation
import Images
import Tables

/// The tables of a run, one row per grid point (metrics, confusion) or per sample and
/// point (scores) or per curve point (ROC, PR).
struct ResultReport {
    var spec: ExperimentSpec
    /// The spec's dataset points, in order (`GridPoint.dataset` indexes them).
    var datasets: [LoadedDatasetPoint]
    var results: [PointResult]
    /// The species classifier's predictions per dataset point (indexed like `datasets`),
    /// when the spec has a classifier.
    var classifiers: [ClassifierOutcome]?

    func writeTables(to staging: ResultsStaging) throws {
        try staging.write(metricsTable.csv, to: "metrics.csv")
        try staging.write(metricsMarkdown, to: "metrics.md")
        try staging.write(scoresTable.csv, to: "scores.csv")
        try staging.write(rocTable.csv, to: "roc.csv")
        try staging.write(precisionRecallTable.csv, to: "pr.csv")
        try staging.write(confusionTable.csv, to: "confusion.csv")
    }

    /// `point`, the grid parameters, every metric, the threshold, bank size and timings; with
    /// a faiss index, its recall@1 against exact search and its build and search seconds
    /// (empty on exact points).
    var metricsTable: Table {
        let indexColumns = spec.usesApproximateIndex ? Self.indexColumns : []
        var table = Table(header: ["point"] + results[0].point.parameters.map(\.name) + spec.metrics.map(\.rawValue)
                          + ["threshold", "bank_size"] + indexColumns.prefix(1) + ["fit_seconds", "score_seconds"]
                          + indexColumns.dropFirst())
        for result in results {
            let check = result.indexCheck
            let seconds = { (value: Double?) in value.map { String(format: "%.3f", $0) } ?? "" }
            let indexCells = indexColumns.isEmpty ? [] : [
                check.map { cell($0.recallAtOne) } ?? "", seconds(check?.buildSeconds), seconds(check?.searchSeconds),
                seconds(check?.exactSearchSeconds),
            ]
            table.append([String(result.point.index)] + result.point.parameters.map(\.value)
                         + spec.metrics.map { cell(result.metrics[$0]!) }
                         + [cell(result.threshold), result.scorer.bankSize.map(String.init) ?? ""]
                         + indexCells.prefix(1)
                         + [String(format: "%.3f", result.fitSeconds), String(format: "%.3f", result.scoreSeconds)]
                         + indexCells.dropFirst())
        }
        return table
    }

    /// The faiss index columns: recall@1 on the seeded query sample, then the timings
    /// (`Baseline.timingColumns` leaves those out of baselines).
    static let indexColumns = ["index_recall_at_1", "index_build_seconds", "index_search_seconds", "exact_search_seconds"]

    private var metricsMarkdown: String {
        var table = Table(header: metricsTable.header)
        for row in metricsTable.rows {
            // Metrics rounded to 4 decimals for reading; metrics.csv keeps every digit.
            let metricColumns = Set(spec.metrics.map(\.rawValue))
            table.append(zip(table.header, row).map { name, value in
                metricColumns.contains(name) ? String(format: "%.4f", Double(value)!) : value
            })
        }
        if datasets.count > 1 { meanRows.forEach { table.append($0) } }
        return "# \(spec.name)\n\n\(spec.description)\n\n" + table.markdown
    }

    /// With several dataset points, one row per feature and scorer setting with each metric's
    /// mean over the dataset points (`point` reads `mean`, dataset columns `all N`), as papers
    /// print per-class tables; 4 decimals like the other rows of metrics.md.
    private var meanRows: [[String]] {
        let datasetColumns = datasets[0].point.parameters.count
        var groups = [[Parameter]: [PointResult]]()
        var order = [[Parameter]]()
        for result in results {
            let setting = Array(result.point.parameters.dropFirst(datasetColumns))
            if groups[setting] == nil { order.append(setting) }
            groups[setting, default: []].append(result)
        }
        return order.map { setting in
            let members = groups[setting]!
            return ["mean"] + Array(repeating: "all \(members.count)", count: datasetColumns) + setting.map(\.value)
                + spec.metrics.map { metric in
                    String(format: "%.4f", members.map { $0.metrics[metric]! }.reduce(0, +) / Double(members.count))
                }
                + Array(repeating: "", count: 4 + (spec.usesApproximateIndex ? Self.indexColumns.count : 0))
        }
    }

    /// Metadata column names over all samples, the image-quality columns first, then the
    /// rest sorted; a name that clashes with a fixed column is prefixed `metadata_`.
    private var metadataColumns: [(key: String, column: String)] {
        let fixed: Set<String> = Set(["point", "id", "split", "label", "label_detail", "score", "predicted"]
                                     + datasetColumns)
        let keys = Set(datasets.flatMap { $0.dataset.samples.flatMap(\.metadata.keys) }).sorted(by: metadataColumnOrder)
        return keys.map { ($0, fixed.contains($0) ? "metadata_\($0)" : $0) }
    }

    /// Names of the swept dataset fields (empty without dataset sweeps).
    private var datasetColumns: [String] { datasets[0].point.parameters.map(\.name) }

    /// One row per grid point and scored sample: test samples, then training samples when
    /// the threshold rule scored them. The swept dataset fields follow `point`.
    var scoresTable: Table {
        let metadata = metadataColumns
        var table = Table(header: ["point"] + datasetColumns + ["id", "split", "label", "label_detail", "score", "predicted"]
                          + metadata.map(\.column))
        for result in results {
            let dataset = datasets[result.point.dataset]
            var rows = zip(dataset.test, result.testScores).map { ($0, $1) }
            if let trainScores = result.trainScores { rows += zip(dataset.train, trainScores).map { ($0, $1) } }
            for (sample, score) in rows {
                table.append([String(result.point.index)] + dataset.point.parameters.map(\.value)
                             + [sample.id, sample.split.rawValue, sample.label.kind.rawValue,
                                sample.label.name, cell(score), score >= result.threshold ? "anomalous" : "normal"]
                             + metadata.map { sample.metadata[$0.key]?.description ?? "" })
            }
        }
        return table
    }

    /// ROC points, highest threshold first (`inf` for the (0, 0) point).
    var rocTable: Table {
        var table = Table(header: ["point", "threshold", "fpr", "tpr"])
        for result in results {
            let roc = result.roc
            for i in roc.thresholds.indices {
                table.append([String(result.point.index), cell(roc.thresholds[i]),
                              cell(roc.falsePositiveRates[i]), cell(roc.truePositiveRates[i])])
            }
        }
        return table
    }

    /// Precision–recall points, lowest threshold first; the final (recall 0, precision 1)
    /// point has no threshold (empty cell).
    var precisionRecallTable: Table {
        var table = Table(header: ["point", "threshold", "precision", "recall"])
        for result in results {
            let curve = result.precisionRecall
            for i in curve.precisions.indices {
                table.append([String(result.point.index), i < curve.thresholds.count ? cell(curve.thresholds[i]) : "",
                              cell(curve.precisions[i]), cell(curve.recalls[i])])
            }
        }
        return table
    }

    /// FathomNet 2023 submission format, one row per test image: `id` (the sample id),
    /// `categories` (the classifier's ranking, space-separated, at most 20) and `osd`, the
    /// out-of-sample score of `result`'s point min–max scaled over the test images to [0, 1]
    /// (a monotone map: sAUC is unchanged; 0 for all when every score is equal).
    func submissionTable(_ result: PointResult) -> Table {
        var table = Table(header: ["id", "categories", "osd"])
        let low = result.testScores.min()!, high = result.testScores.max()!
        let rankings = classifiers![result.point.dataset].rankings
        for (position, (sample, score)) in zip(datasets[result.point.dataset].test, result.testScores).enumerated() {
            table.append([sample.id, rankings[position].joined(separator: " "),
                          cell(high > low ? (score - low) / (high - low) : 0)])
        }
        return table
    }

    /// Test-set decisions at each point's threshold (anomalous = positive).
    var confusionTable: Table {
        var table = Table(header: ["point", "threshold", "true_positives", "false_positives", "true_negatives",
                                   "false_negatives", "precision", "recall", "f1", "accuracy"])
        for result in results {
            let c = result.confusion
            table.append([String(result.point.index), cell(result.threshold), String(c.truePositives),
                          String(c.falsePositives), String(c.trueNegatives), String(c.falseNegatives),
                          cell(c.precision), cell(c.recall), cell(c.f1), cell(c.accuracy)])
        }
        return table
    }
}

/// Metadata columns in table order: the image-quality columns (in ``ImageQuality/columns``
/// order), then the rest by name.
func metadataColumnOrder(_ a: String, _ b: String) -> Bool {
    let (i, j) = (ImageQuality.columns.firstIndex(of: a) ?? Int.max, ImageQuality.columns.firstIndex(of: b) ?? Int.max)
    return i != j ? i < j : a < b
}
