import Foundation
import Tables

/// The report's figures, each a pure function of a results folder's tables; nil when the
/// folder lacks the file a figure needs.
extension ResultsFolder {
    /// More grid points than this on one curve plot: the best is highlighted, the rest gray.
    static let curvesShownSeparately = 6

    /// ROC curves (`roc.csv`), one per grid point, with the chance diagonal.
    var rocPlot: Plot? {
        guard let roc else { return nil }
        var plot = Plot(title: "ROC — \(name)", xLabel: "false positive rate", yLabel: "true positive rate",
                        series: curves(roc, x: "fpr", y: "tpr", metric: "auroc"),
                        xRange: 0...1, yRange: 0...1, legendCorner: .bottomRight)
        plot.series.insert(Plot.Series(name: "chance", colour: "#999999", points: [(0, 0), (1, 1)], width: 1, dashed: true), at: 0)
        return plot
    }

    /// Precision–recall curves (`pr.csv`), one per grid point, with the anomalous share as the
    /// chance level when scores.csv gives it.
    var precisionRecallPlot: Plot? {
        guard let precisionRecall else { return nil }
        var plot = Plot(title: "Precision–recall — \(name)", xLabel: "recall", yLabel: "precision",
                        series: curves(precisionRecall, x: "recall", y: "precision", metric: "ap"),
                        xRange: 0...1, yRange: 0...1, legendCorner: .bottomLeft)
        let test = bestScores.filter { $0.split == "test" }
        if !test.isEmpty {
            let share = Double(test.filter(\.anomalous).count) / Double(test.count)
            plot.series.insert(Plot.Series(name: "chance (anomalous share \(formatNumber(share)))", colour: "#999999",
                                           points: [(0, share), (1, share)], width: 1, dashed: true), at: 0)
        }
        return plot
    }

    /// One series per grid point, or with many points the best in colour and the rest thin gray.
    private func curves(_ table: Table, x: String, y: String, metric: String) -> [Plot.Series] {
        let points = column("point", of: table)
        let xs = column(x, of: table).map { Double($0) ?? .nan }
        let ys = column(y, of: table).map { Double($0) ?? .nan }
        var order = [String]()
        var byPoint = [String: [(x: Double, y: Double)]]()
        for (i, point) in points.enumerated() {
            if byPoint[point] == nil { order.append(point) }
            byPoint[point, default: []].append((xs[i], ys[i]))
        }
        func label(_ point: String) -> String {
            let value = metricsRow(Int(point) ?? -1)?[metric].flatMap(Double.init)
            return describe(point: Int(point) ?? -1) + (value.map { " (\(Self.metricNames[metric] ?? metric) \(String(format: "%.3f", $0)))" } ?? "")
        }
        if order.count <= Self.curvesShownSeparately {
            return order.enumerated().map { index, point in
                Plot.Series(name: label(point), colour: Plot.palette[index % Plot.palette.count], points: byPoint[point]!)
            }
        }
        let best = bestPoint.map(String.init) ?? order[0]
        var series = order.filter { $0 != best }.enumerated().map { index, point in
            Plot.Series(name: index == 0 ? "other grid points (\(order.count - 1))" : nil, colour: "#b0b0b0",
                        points: byPoint[point]!, width: 1)
        }
        series.append(Plot.Series(name: "best: " + label(best), colour: Plot.palette[3], points: byPoint[best] ?? [], width: 2.5))
        return series
    }

    /// A scored image of the best grid point (a scores.csv row).
    struct ScoredImage {
        var id: String
        var split: String
        var anomalous: Bool
        var detail: String
        var score: Double
        var metadata: [(name: String, value: String)]
    }

    /// The scores.csv rows of the best grid point.
    var bestScores: [ScoredImage] {
        guard let scores, let best = bestPoint else { return [] }
        let fixed: Set<String> = ["point", "id", "split", "label", "label_detail", "score", "predicted"]
        let metadata = scores.header.filter { !fixed.contains($0) }
        return scores.records { $0["point"] == String(best) }.map { row in
            ScoredImage(id: row["id"]!, split: row["split"] ?? "", anomalous: row["label"] == "anomalous",
                        detail: row["label_detail"] ?? "", score: Double(row["score"] ?? "") ?? .nan,
                        metadata: metadata.compactMap { name in row[name].flatMap { $0.isEmpty ? nil : (name, $0) } })
        }
    }

    /// The threshold of the best grid point and how it was chosen.
    var threshold: (value: Double, rule: String)? {
        guard let best = bestPoint, let value = metricsRow(best)?["threshold"].flatMap(Double.init) else { return nil }
        return (value, run["threshold_rule"] as? String ?? "threshold")
    }

    /// Score histograms at the best grid point: training images (when scored), test normal,
    /// test anomalous, each as the fraction of its group per bin, and the threshold.
    var scoresPlot: Plot? {
        let scored = bestScores.filter { $0.score.isFinite }
        guard !scored.isEmpty else { return nil }
        let groups: [(String, String, [Double])] = [
            ("training images", "#7f7f7f", scored.filter { $0.split == "train" }.map(\.score)),
            ("test normal", Plot.palette[0], scored.filter { $0.split == "test" && !$0.anomalous }.map(\.score)),
            ("test anomalous", Plot.palette[3], scored.filter { $0.split == "test" && $0.anomalous }.map(\.score)),
        ].filter { !$0.2.isEmpty }
        var all = scored.map(\.score)
        if let threshold, threshold.value.isFinite { all.append(threshold.value) }
        // 2·√n bins for the largest group, 10 to 30: small test sets get wider bins.
        let largest = groups.map(\.2.count).max() ?? 0
        let bins = min(30, max(10, Int((2 * Double(largest).squareRoot()).rounded())))
        let edges = Histogram.edges(lower: all.min()!, upper: all.max()!, bins: bins)
        let series = groups.map { name, colour, values in
            let counts = Histogram(values: values, edges: edges).counts
            return Plot.Series.histogram(name: "\(name) (\(values.count))", colour: colour, edges: edges,
                                         heights: counts.map { Double($0) / Double(values.count) })
        }
        let rules = threshold.map { [Plot.Rule(x: $0.value, name: "threshold \(formatNumber($0.value)): \($0.rule)")] } ?? []
        let point = bestPoint.map { (metricsRow($0) == nil || (metrics?.rows.count ?? 0) < 2) ? "" : ", \(describe(point: $0))" } ?? ""
        return Plot(title: "Anomaly scores\(point)", xLabel: "anomaly score", yLabel: "fraction of the group's images",
                    series: series, rules: rules,
                    // Headroom above the tallest bar for the legend.
                    yRange: 0...((series.flatMap { $0.points.map(\.y) }.max() ?? 1) * 1.4))
    }

    /// One plot per swept parameter: every metric against the parameter's values (with other
    /// swept parameters, the best value over them).
    var sweepPlots: [(parameter: String, plot: Plot)] {
        guard let metrics else { return [] }
        let swept = sweptParameters
        return swept.map { parameter in
            let cells = column(parameter, of: metrics)
            var values = [String]()
            for cell in cells where !values.contains(cell) { values.append(cell) }
            let numeric = values.allSatisfy { Double($0) != nil }
            if numeric { values.sort { Double($0)! < Double($1)! } }
            let position: (String) -> Double = numeric ? { Double($0)! } : { Double(values.firstIndex(of: $0)!) }
            let others = swept.count > 1 ? " (best over \(swept.filter { $0 != parameter }.joined(separator: ", ")))" : ""
            let series = metricColumns.enumerated().map { index, metric in
                let scores = column(metric, of: metrics).map { Double($0) ?? .nan }
                let points = values.map { value -> (x: Double, y: Double) in
                    let best = cells.indices.filter { cells[$0] == value }.map { scores[$0] }.max() ?? .nan
                    return (position(value), best)
                }
                return Plot.Series(name: (Self.metricNames[metric] ?? metric) + others,
                                   colour: Plot.palette[index % Plot.palette.count], points: points, mark: .lineAndPoints)
            }
            let ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
            // The lowest value a third of the way up, leaving the bottom of the plot to the legend.
            let lower = min(ys.min() ?? 0, 1)
            return (parameter: parameter, plot: Plot(title: "Metrics against \(parameter)", xLabel: parameter, yLabel: "metric value",
                                    series: series, yRange: max(0, lower - (1.01 - lower) * 0.5 - 0.01)...1.01,
                                    xCategories: numeric ? nil : values, legendCorner: .bottomRight))
        }
    }

    /// PCA and UMAP panels of `embedding.csv`, points coloured by split and label.
    var embeddingPlots: [Plot] {
        guard let embedding else { return [] }
        let rows = embedding.records()
        var groups = [String]()
        for row in rows {
            let group = "\(row["split"] ?? "") \(row["label"] ?? "")"
            if !groups.contains(group) { groups.append(group) }
        }
        // Training points first, under the test points; then test normal, test anomalous, the rest.
        let layers = ["train normal", "test normal", "test anomalous"]
        groups = groups.enumerated().sorted {
            (layers.firstIndex(of: $0.element) ?? layers.count, $0.offset) < (layers.firstIndex(of: $1.element) ?? layers.count, $1.offset)
        }.map(\.element)
        let known = ["train normal": "#7f7f7f", "test normal": Plot.palette[0], "test anomalous": Plot.palette[3]]
        var spare = [1, 2, 4, 5, 6, 8, 9].map { Plot.palette[$0] }.makeIterator()
        let colours = groups.map { known[$0] ?? spare.next() ?? "#000000" }
        return [("PCA", "pca"), ("UMAP", "umap")].compactMap { title, prefix in
            let series = zip(groups, colours).map { group, colour -> Plot.Series in
                let points = rows.filter { "\($0["split"] ?? "") \($0["label"] ?? "")" == group }.compactMap { row -> (x: Double, y: Double)? in
                    guard let x = row["\(prefix)_x"].flatMap(Double.init), let y = row["\(prefix)_y"].flatMap(Double.init) else { return nil }
                    return (x, y)
                }
                return Plot.Series(name: "\(group) (\(points.count))", colour: colour, points: points,
                                   mark: .points(radius: 3), opacity: 0.7)
            }
            guard series.contains(where: { !$0.points.isEmpty }) else { return nil }
            return Plot(title: "\(title) of image embeddings", xLabel: "\(title) 1", yLabel: "\(title) 2",
                        series: series.filter { !$0.points.isEmpty })
        }
    }
}
