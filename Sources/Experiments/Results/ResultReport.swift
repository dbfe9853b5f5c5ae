import Datasets
import Foundation
import Tables

/// The tables of a run, one row per grid point (metrics, confusion) or per sample and
/// point (scores) or per curve point (ROC, PR).
struct ResultReport {
    var spec: ExperimentSpec
    var samples: [Sample]
    var trainRows: [Int]
    var testRows: [Int]
    var results: [PointResult]
    /// The species classifier's predictions, when the spec has a classifier.
    var classifier: ClassifierOutcome?

    func writeTables(to staging: ResultsStaging) throws {
        try staging.write(metricsTable.csv, to: "metrics.csv")
        try staging.write(metricsMarkdown, to: "metrics.md")
        try staging.write(scoresTable.csv, to: "scores.csv")
        try staging.write(rocTable.csv, to: "roc.csv")
        try staging.write(precisionRecallTable.csv, to: "pr.csv")
        try staging.write(confusionTable.csv, to: "confusion.csv")
    }

    /// `point`, the grid parameters, every metric, the threshold, bank size and timings.
    var metricsTable: Table {
        var table = Table(header: ["point"] + results[0].point.parameters.map(\.name) + spec.metrics.map(\.rawValue)
                          + ["threshold", "bank_size", "fit_seconds", "score_seconds"])
        for result in results {
            table.append([String(result.point.index)] + result.point.parameters.map(\.value)
                         + spec.metrics.map { cell(result.metrics[$0]!) }
                         + [cell(result.threshold), result.scorer.bankSize.map(String.init) ?? "",
                            String(format: "%.3f", result.fitSeconds), String(format: "%.3f", result.scoreSeconds)])
        }
        return table
    }

    private var metricsMarkdown: String {
        var table = Table(header: metricsTable.header)
        for row in metricsTable.rows {
            // Metrics rounded to 4 decimals for reading; metrics.csv keeps every digit.
            let metricColumns = Set(spec.metrics.map(\.rawValue))
            table.append(zip(table.header, row).map { name, value in
                metricColumns.contains(name) ? String(format: "%.4f", Double(value)!) : value
            })
        }
        return "# \(spec.name)\n\n\(spec.description)\n\n" + table.markdown
    }

    /// Metadata column names over all samples, sorted; a name that clashes with a fixed
    /// column is prefixed `metadata_`.
    private var metadataColumns: [(key: String, column: String)] {
        let fixed: Set<String> = ["point", "id", "split", "label", "label_detail", "score", "predicted"]
        let keys = Set(samples.flatMap(\.metadata.keys)).sorted()
        return keys.map { ($0, fixed.contains($0) ? "metadata_\($0)" : $0) }
    }

    /// One row per grid point and scored sample: test samples, then training samples when
    /// the threshold rule scored them.
    var scoresTable: Table {
        let metadata = metadataColumns
        var table = Table(header: ["point", "id", "split", "label", "label_detail", "score", "predicted"]
                          + metadata.map(\.column))
        for result in results {
            var rows = zip(testRows, result.testScores).map { ($0, $1) }
            if let trainScores = result.trainScores { rows += zip(trainRows, trainScores).map { ($0, $1) } }
            for (row, score) in rows {
                let sample = samples[row]
                table.append([String(result.point.index), sample.id, sample.split.rawValue, sample.label.kind.rawValue,
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
        for (position, (row, score)) in zip(testRows, result.testScores).enumerated() {
            table.append([samples[row].id, classifier!.rankings[position].joined(separator: " "),
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
