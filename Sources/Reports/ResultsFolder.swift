import Foundation
import Tables

/// The files of one results folder (`Results/NAME/`) that a report is made from. Every file
/// is optional: committed baselines hold only `metrics.csv`, `metrics.md` and `run.json`, and
/// the report says what it could not show.
public struct ResultsFolder {
    public let url: URL
    /// The folder's name (the experiment's name when run.json does not say).
    public var name: String { (run["name"] as? String) ?? url.lastPathComponent }
    /// `run.json` as a JSON object (empty when absent).
    public let run: [String: Any]
    public let metrics: Table?
    public let scores: Table?
    public let roc: Table?
    public let precisionRecall: Table?
    public let confusion: Table?
    /// `gallery.csv`: `section, rank, id, file, scale_min, scale_max` (the runner's picks).
    public let gallery: Table?
    /// `embedding.csv`: `id, split, label, pca_x, pca_y, umap_x, umap_y`.
    public let embedding: Table?
    /// `metrics.md` (its second paragraph is the spec's description).
    public let metricsMarkdown: String?

    /// Reads what exists in `url`; a file that exists but cannot be read is an error naming it.
    public init(url: URL) throws {
        self.url = url
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ReportError("\(url.path): no such results folder")
        }
        func table(_ name: String) throws -> Table? {
            let file = url.appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: file.path) ? try Table(contentsOf: file) : nil
        }
        let runFile = url.appendingPathComponent("run.json")
        if let data = FileManager.default.contents(atPath: runFile.path) {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ReportError("\(runFile.path): not a JSON object")
            }
            run = object
        } else {
            run = [:]
        }
        metrics = try table("metrics.csv")
        scores = try table("scores.csv")
        roc = try table("roc.csv")
        precisionRecall = try table("pr.csv")
        confusion = try table("confusion.csv")
        gallery = try table("gallery.csv")
        embedding = try table("embedding.csv")
        metricsMarkdown = FileManager.default.contents(atPath: url.appendingPathComponent("metrics.md").path)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `relativePath` names a file in the folder.
    func has(_ relativePath: String) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent(relativePath).path)
    }

    /// The spec's description: run.json's, or metrics.md's second paragraph.
    var description: String? {
        if let text = run["description"] as? String { return text }
        guard let paragraphs = metricsMarkdown?.components(separatedBy: "\n\n"), paragraphs.count > 2 else { return nil }
        let text = paragraphs[1].trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Metric names the runner writes, in the order they may appear (metrics.csv columns).
    static let metricNames: [String: String] = [
        "auroc": "AUROC", "ap": "AP", "sauc": "sAUC", "f1_max": "F1-max", "pixel_auroc": "pixel AUROC", "aupro": "AUPRO",
        "fpr_at_95_tpr": "FPR@95TPR", "aupr_in": "AUPR-In", "aupr_out": "AUPR-Out",
    ]

    /// The metric columns of metrics.csv, in order.
    var metricColumns: [String] { metrics?.header.filter { Self.metricNames[$0] != nil } ?? [] }

    /// The grid parameter columns of metrics.csv: between `point` and the first metric.
    var parameterColumns: [String] {
        guard let header = metrics?.header, let first = header.firstIndex(where: { Self.metricNames[$0] != nil }) else { return [] }
        return Array(header[1..<first])
    }

    /// Parameters with more than one value across the grid.
    var sweptParameters: [String] {
        parameterColumns.filter { Set(column($0, of: metrics)).count > 1 }
    }

    /// The grid point with the best headline metric: run.json's, or the first metric's maximum.
    var bestPoint: Int? {
        if let headline = run["headline"] as? [String: Any], let point = (headline["point"] as? NSNumber)?.intValue {
            return point
        }
        guard let metrics, let metric = metricColumns.first else { return nil }
        let values = column(metric, of: metrics).map { Double($0) ?? -.infinity }
        return values.indices.max { values[$0] < values[$1] }.flatMap { Int(metrics.rows[$0][0]) }
    }

    /// The metrics.csv row of grid point `point` as column → cell.
    func metricsRow(_ point: Int) -> [String: String]? {
        guard let metrics, let row = metrics.rows.first(where: { $0.first == String(point) }) else { return nil }
        return Dictionary(uniqueKeysWithValues: zip(metrics.header, row))
    }

    /// `point, parameters…` of a grid point in words: `k=1, metric=cosine` (swept parameters only).
    func describe(point: Int) -> String {
        guard let row = metricsRow(point) else { return "point \(point)" }
        let swept = sweptParameters.map { "\($0)=\(row[$0] ?? "")" }
        return swept.isEmpty ? "point \(point)" : "point \(point): " + swept.joined(separator: ", ")
    }
}

/// The cells of column `name` of `table` (empty when either is missing).
func column(_ name: String, of table: Table?) -> [String] {
    guard let table, let index = table.header.firstIndex(of: name) else { return [] }
    return table.rows.map { $0[index] }
}

extension Table {
    /// Rows as column → cell dictionaries, keeping only those `keep` accepts.
    func records(where keep: ([String: String]) -> Bool = { _ in true }) -> [[String: String]] {
        rows.map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }.filter(keep)
    }
}
