import Foundation
import Tables

/// One way a fresh run's metrics differ from the committed baseline's.
public struct MetricDifference: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// A metric moved by more than its tolerance (either direction).
        case drift
        /// The baseline has a grid row the fresh run lacks.
        case missingRow = "missing row"
        /// The fresh run has a grid row the baseline lacks.
        case newRow = "new row"
        /// A metric column the spec lists is absent from one of the tables.
        case missingMetric = "missing metric"
        /// A metric cell is not a number (nor `nan`).
        case unreadable
        /// A baseline row and a fresh row without a match were paired by position: the
        /// spec's parameters changed (e.g. `k=1 → k=3`).
        case changedParameters = "parameters changed"
    }

    public var kind: Kind
    /// The spec's name.
    public var experiment: String
    /// The grid row: `key=value` pairs of the parameters that vary between rows
    /// (`coreset_ratio=0.1`), `row N` when matched by position, `old → new` for a changed
    /// parameter (`k=1 → k=3`).
    public var row: String
    /// The metric column (`auroc`), empty for a whole missing or new row.
    public var metric: String
    /// The baseline's cell, or `—` when it has none.
    public var old: String
    /// The fresh run's cell, or `—` when it has none.
    public var new: String
    /// `new − old`, when both are numbers.
    public var delta: Double?
    /// The largest allowed |new − old| for this metric.
    public var tolerance: Double?
}

/// Compares the metrics table of a fresh run with the committed baseline, cell by cell.
///
/// Rows are matched by the values of `keyColumns` (the grid's parameters) present in both
/// tables; when the tables share none, or a key repeats, rows are matched by position.
/// Rows left without a match are paired in order when both sides have the same number
/// of them (a changed parameter: `k=1 → k=3`, compared metric by metric), and otherwise
/// reported as missing or new.
/// Every metric in `tolerances` must be a column of both tables; a metric passes when
/// `|new − old| ≤ tolerance` (both `nan` counts as equal). Other columns (timings,
/// thresholds) are not compared.
public struct BaselineComparison: Sendable {
    public var experiment: String
    /// Every difference found: missing metric columns, unmatched rows, then metric
    /// differences row by row.
    public private(set) var differences: [MetricDifference] = []

    public var passed: Bool { differences.isEmpty }

    /// `tolerances` pairs each compared metric column with its largest allowed
    /// |new − old|, in the metric's own units, in comparison order.
    public init(experiment: String, baseline: Table, current: Table, keyColumns: [String],
                tolerances: [(metric: String, tolerance: Double)]) {
        self.experiment = experiment
        let identity = RowIdentity(baseline: baseline, current: current, keyColumns: keyColumns)
        let baselineKeys = identity.baselineLabels, currentKeys = identity.currentLabels

        var missingColumns = Set<String>()
        for (metric, _) in tolerances {
            let inBaseline = baseline.header.contains(metric), inCurrent = current.header.contains(metric)
            guard !(inBaseline && inCurrent) else { continue }
            missingColumns.insert(metric)
            differences.append(MetricDifference(
                kind: .missingMetric, experiment: experiment, row: "(all rows)", metric: metric,
                old: inBaseline ? "present" : "—", new: inCurrent ? "present" : "—", delta: nil, tolerance: nil))
        }

        let currentRows = Dictionary(uniqueKeysWithValues: zip(currentKeys, current.rows))
        let known = Set(baselineKeys)
        var pairs = [(row: String, old: [String], new: [String])]()
        var unmatchedOld = [(key: String, row: [String])]()
        for (key, oldRow) in zip(baselineKeys, baseline.rows) {
            if let newRow = currentRows[key] { pairs.append((key, oldRow, newRow)) } else { unmatchedOld.append((key, oldRow)) }
        }
        let unmatchedNew = zip(currentKeys, current.rows).filter { !known.contains($0.0) }
        if !unmatchedOld.isEmpty, unmatchedOld.count == unmatchedNew.count {
            for (old, new) in zip(unmatchedOld, unmatchedNew) {
                let row = "\(old.key) → \(new.0)"
                differences.append(MetricDifference(kind: .changedParameters, experiment: experiment, row: row,
                                                    metric: "", old: old.key, new: new.0, delta: nil, tolerance: nil))
                pairs.append((row, old.row, new.1))
            }
        } else {
            for old in unmatchedOld {
                differences.append(MetricDifference(kind: .missingRow, experiment: experiment, row: old.key, metric: "",
                                                    old: "present", new: "—", delta: nil, tolerance: nil))
            }
            for new in unmatchedNew {
                differences.append(MetricDifference(kind: .newRow, experiment: experiment, row: new.0, metric: "",
                                                    old: "—", new: "present", delta: nil, tolerance: nil))
            }
        }
        for (row, oldRow, newRow) in pairs {
            for (metric, tolerance) in tolerances where !missingColumns.contains(metric) {
                let oldText = oldRow[baseline.header.firstIndex(of: metric)!]
                let newText = newRow[current.header.firstIndex(of: metric)!]
                if let difference = Self.compare(oldText, newText, tolerance: tolerance) {
                    differences.append(MetricDifference(kind: difference.kind, experiment: experiment, row: row,
                                                        metric: metric, old: oldText, new: newText,
                                                        delta: difference.delta, tolerance: tolerance))
                }
            }
        }
    }

    private static func compare(_ old: String, _ new: String, tolerance: Double)
        -> (kind: MetricDifference.Kind, delta: Double?)? {
        guard let a = Double(old), let b = Double(new) else { return (.unreadable, nil) }
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? nil : (.drift, b - a) }
        let delta = b - a
        // The cells are shortest round-trip decimals; allow for the tolerance's own rounding.
        return abs(delta) <= tolerance * (1 + 1e-9) ? nil : (.drift, delta)
    }
}

/// How rows are told apart: by the key columns both tables have (by position when they
/// have none or a key repeats), labelled with the key columns whose values vary (`k=10`),
/// so that a label names what distinguishes the row and nothing else.
private struct RowIdentity {
    var baselineLabels: [String]
    var currentLabels: [String]

    init(baseline: Table, current: Table, keyColumns: [String]) {
        let keys = keyColumns.filter { baseline.header.contains($0) && current.header.contains($0) }
        func values(_ table: Table) -> [[String]] {
            let indices = keys.map { table.header.firstIndex(of: $0)! }
            return table.rows.map { row in indices.map { row[$0] } }
        }
        let old = values(baseline), new = values(current)
        guard !keys.isEmpty, Set(old).count == old.count, Set(new).count == new.count else {
            baselineLabels = baseline.rows.indices.map { "row \($0 + 1)" }
            currentLabels = current.rows.indices.map { "row \($0 + 1)" }
            return
        }
        let varying = keys.indices.filter { i in Set((old + new).map { $0[i] }).count > 1 }
        func label(_ row: [String]) -> String {
            varying.isEmpty ? "(the only row)" : varying.map { "\(keys[$0])=\(row[$0])" }.joined(separator: " ")
        }
        baselineLabels = old.map(label)
        currentLabels = new.map(label)
    }
}

extension Array where Element == MetricDifference {
    /// A fixed-width text table for a terminal: experiment, row, metric, old, new, delta,
    /// tolerance, and what kind of difference it is.
    public var report: String {
        func number(_ value: Double?, signed: Bool = false) -> String {
            guard let value else { return "—" }
            if value.isNaN { return "nan" }
            return String(format: signed ? "%+.4f" : "%.4f", value)
        }
        func shortened(_ cell: String) -> String {
            guard let value = Double(cell), !value.isNaN else { return cell }
            return String(format: "%.4f", value)
        }
        let header = ["experiment", "row", "metric", "old", "new", "delta", "tolerance", "problem"]
        let rows = map { d in
            [d.experiment, d.row, d.metric.isEmpty ? "—" : d.metric, shortened(d.old), shortened(d.new),
             number(d.delta, signed: true), number(d.tolerance),
             d.kind == .drift ? "drift beyond tolerance" : d.kind.rawValue]
        }
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = Swift.max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }
                .joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }
        return line(header) + line(widths.map { String(repeating: "-", count: $0) }) + rows.map(line).joined()
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
