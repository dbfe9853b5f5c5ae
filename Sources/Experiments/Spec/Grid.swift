import Scorers

/// One combination of a spec's swept parameters: a dataset point, and every `Sweep` in
/// `features` and `scorer` holding exactly one value.
public struct GridPoint: Hashable, Sendable {
    /// Position in the grid, from 0, in expansion order.
    public var index: Int
    /// Index of the point's dataset in `ExperimentSpec.datasets`.
    public var dataset: Int
    public var features: FeatureSpec
    public var scorer: ScorerSpec
    /// The swept dataset fields, then every sweepable feature and scorer parameter of the
    /// point (swept or not), in spec order.
    public var parameters: [Parameter]
}

extension ExperimentSpec {
    /// The number of points `grid` expands to, counted without expanding it (`Int.max` when
    /// the product overflows).
    public var gridSize: Int {
        var counts = [datasets.count]
        if case .patchcore = scorer {
            counts += [features.pooling.values.count, features.pretrainDim.values.count, features.targetDim.values.count,
                       features.augment.values.count]
        }
        switch scorer {
        case .patchcore(let spec):
            counts += [spec.coresetRatio.values.count, spec.k.values.count, spec.metric.values.count,
                       spec.reweighting.values.count, spec.index.values.count]
        case .knn(let spec):
            counts += [spec.k.values.count, spec.metric.values.count, spec.aggregate.values.count, spec.index.values.count]
        case .mahalanobis(let spec):
            counts.append(spec.estimator.values.count)
            if spec.estimator.values.contains(.sample) { counts.append(spec.ridge.values.count) }
        case .gmm(let spec):
            counts += [spec.components.values.count, spec.covariance.values.count]
        case .ocsvm(let spec):
            counts += [spec.nu.values.count, spec.gamma.values.count]
        }
        return product(counts)
    }

    /// Dataset points × the cartesian product of every swept feature and scorer parameter,
    /// the last parameter varying fastest. A spec without sweeps has one point.
    public var grid: [GridPoint] {
        // Patch-feature parameters matter to PatchCore only (the others pool globally).
        var features = GridExpansion(self.features)
        if case .patchcore = scorer {
            features.sweep(\.pooling, "pooling") { String($0) }
            features.sweep(\.pretrainDim, "pretrain_dim") { $0.map(String.init) ?? "all" }
            features.sweep(\.targetDim, "target_dim") { $0.map(String.init) ?? "all" }
            if self.features.augment.values != [[]] {
                features.sweep(\.augment, "augment") { $0.isEmpty ? "none" : $0.map(\.rawValue).joined(separator: "+") }
            }
        }

        let scorers: [(ScorerSpec, [Parameter])]
        switch scorer {
        case .patchcore(let spec):
            var grid = GridExpansion(spec)
            grid.sweep(\.coresetRatio, "coreset_ratio", formatNumber)
            grid.sweep(\.k, "k") { String($0) }
            grid.sweep(\.metric, "metric") { $0.rawValue }
            grid.sweep(\.reweighting, "reweighting") { String($0) }
            if spec.index.values != [nil] { grid.sweep(\.index, "index", indexName) }
            scorers = grid.points.map { (.patchcore($0.root), $0.parameters) }
        case .knn(let spec):
            var grid = GridExpansion(spec)
            grid.sweep(\.k, "k") { String($0) }
            grid.sweep(\.metric, "metric") { $0.rawValue }
            grid.sweep(\.aggregate, "aggregate") { $0.rawValue }
            if spec.index.values != [nil] { grid.sweep(\.index, "index", indexName) }
            scorers = grid.points.map { (.knn($0.root), $0.parameters) }
        case .mahalanobis(let spec):
            var grid = GridExpansion(spec)
            grid.sweep(\.estimator, "estimator") { $0.rawValue }
            if spec.estimator.values.contains(.sample) { grid.sweep(\.ridge, "ridge", formatNumber) }
            scorers = grid.points.map { (.mahalanobis($0.root), $0.parameters) }
        case .gmm(let spec):
            var grid = GridExpansion(spec)
            grid.sweep(\.components, "components") { String($0) }
            grid.sweep(\.covariance, "covariance") { $0.rawValue }
            scorers = grid.points.map { (.gmm($0.root), $0.parameters) }
        case .ocsvm(let spec):
            var grid = GridExpansion(spec)
            grid.sweep(\.nu, "nu", formatNumber)
            grid.sweep(\.gamma, "gamma") { $0.description }
            scorers = grid.points.map { (.ocsvm($0.root), $0.parameters) }
        }

        var points = [GridPoint]()
        for dataset in datasets {
            for feature in features.points {
                for (scorer, parameters) in scorers {
                    points.append(GridPoint(index: points.count, dataset: dataset.index, features: feature.root,
                                            scorer: scorer, parameters: dataset.parameters + feature.parameters + parameters))
                }
            }
        }
        return points
    }
}

extension ExperimentSpec {
    /// Whether any grid point searches with a faiss index (its metrics.csv then has the
    /// `index` column and the index recall and timing columns).
    public var usesApproximateIndex: Bool {
        switch scorer {
        case .patchcore(let spec): return spec.index.values != [nil]
        case .knn(let spec): return spec.index.values != [nil]
        case .mahalanobis, .gmm, .ocsvm: return false
        }
    }
}

/// The `index` grid column: `exact`, or the faiss kind and its parameters.
private func indexName(_ kind: ApproximateSearch.Kind?) -> String { kind?.description ?? "exact" }

/// The product of `counts`, `Int.max` when it overflows: the size of a grid before it is built.
func product(_ counts: [Int]) -> Int {
    counts.reduce(1) { product, count in
        let (result, overflow) = product.multipliedReportingOverflow(by: count)
        return overflow ? Int.max : result
    }
}
