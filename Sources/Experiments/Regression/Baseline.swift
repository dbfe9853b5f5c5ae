import Foundation
import Tables

/// The committed results of an experiment, `Results/NAME/baseline.csv`, that `make regress`
/// compares fresh runs with and `make tables` summarises.
///
/// Only `make baseline` writes it: the run's `metrics.csv` without its timing columns, so
/// that identical runs give identical bytes. Everything else a run writes into
/// `Results/NAME/` (`metrics.csv`, `run.json`, scores, curves) is git-ignored, and running
/// an experiment never changes a tracked file.
public struct Baseline: Sendable {
    /// The folder holding every experiment's results (`Results/`).
    public var resultsDirectory: URL

    /// Columns of `metrics.csv` that change between identical runs (seconds of wall time),
    /// left out of the baseline.
    public static let timingColumns: Set<String> = ["fit_seconds", "score_seconds", "index_build_seconds",
                                                     "index_search_seconds", "exact_search_seconds"]

    /// The baseline's file name inside `Results/NAME/`; runs carry it over unchanged.
    public static let fileName = "baseline.csv"

    public init(resultsDirectory: URL) {
        self.resultsDirectory = resultsDirectory
    }

    /// `Results/NAME/baseline.csv`.
    public func file(for name: String) -> URL {
        resultsDirectory.appendingPathComponent(name).appendingPathComponent(Self.fileName)
    }

    /// The committed metrics table of `spec`, or an error saying how to create it.
    public func metrics(of spec: ExperimentSpec) throws -> Table {
        let url = file(for: spec.name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RegressionError("""
                \(spec.name): no baseline at \(url.path). Create it with `make baseline NAME=\(spec.name)` \
                (runs the experiment and writes Results/\(spec.name)/baseline.csv), check the figures, and commit it.
                """)
        }
        return try Table(contentsOf: url)
    }

    /// Writes the baseline of experiment `name` from the `metrics.csv` a run wrote (timing
    /// columns dropped), through a temporary file and a rename.
    public func record(_ name: String, fromMetrics metricsFile: URL) throws {
        let metrics = try Table(contentsOf: metricsFile)
        let kept = metrics.header.indices.filter { !Self.timingColumns.contains(metrics.header[$0]) }
        var baseline = Table(header: kept.map { metrics.header[$0] })
        for row in metrics.rows { baseline.append(kept.map { row[$0] }) }
        let url = file(for: name)
        do {
            try Data(baseline.csv.utf8).write(to: url, options: .atomic)
        } catch {
            throw RegressionError("\(url.path): cannot write (\(error.localizedDescription))")
        }
    }

    /// Compares the metrics a fresh run wrote to `freshMetrics` with the baseline of `spec`,
    /// under the spec's tolerances, matching rows by the spec's grid parameters.
    public func compare(_ spec: ExperimentSpec, freshMetrics: URL) throws -> BaselineComparison {
        let baseline = try metrics(of: spec)
        let current = try Table(contentsOf: freshMetrics)
        return BaselineComparison(experiment: spec.name, baseline: baseline, current: current,
                                  keyColumns: spec.grid.first?.parameters.map(\.name) ?? [],
                                  tolerances: spec.regressionTolerances)
    }
}

extension ExperimentSpec {
    /// Each metric the spec lists with its largest allowed |new − old| (the spec's
    /// `tolerances`, 0.005 where it names none), in the spec's metric order.
    public var regressionTolerances: [(metric: String, tolerance: Double)] {
        metrics.map { ($0.rawValue, tolerances[$0] ?? 0.005) }
    }
}
