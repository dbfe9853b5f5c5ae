import Foundation
import Tables

/// The committed results of an experiment, `Results/NAME/`, that `make regress` compares
/// fresh runs with.
public struct Baseline: Sendable {
    /// The folder holding every experiment's results (`Results/`).
    public var resultsDirectory: URL

    public init(resultsDirectory: URL) {
        self.resultsDirectory = resultsDirectory
    }

    /// `Results/NAME/metrics.csv`.
    public func metricsFile(for name: String) -> URL {
        resultsDirectory.appendingPathComponent(name).appendingPathComponent("metrics.csv")
    }

    /// The committed metrics table of `spec`, or an error saying how to create it.
    public func metrics(of spec: ExperimentSpec) throws -> Table {
        let url = metricsFile(for: spec.name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RegressionError("""
                \(spec.name): no baseline at \(url.path). Create it with `make baseline NAME=\(spec.name)` \
                (runs the experiment and writes Results/\(spec.name)/), check the figures, and commit that folder.
                """)
        }
        return try Table(contentsOf: url)
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
