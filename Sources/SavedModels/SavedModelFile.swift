import CHDF5
import Foundation
import HDF5
import Scorers
import Tensors

extension SavedModel {
    /// Writes the model to `url` atomically: to `<url>.partial-<pid>` first, renamed over
    /// `url` only when complete, so a reader never sees half a model.
    public func write(to url: URL) throws {
        let partial = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try withHDF5 {
                let file = try createFile(partial.path)
                defer { H5Fclose(file) }
                try writeContents(file)
            }
        } catch let failure as HDF5Failure {
            try? FileManager.default.removeItem(at: partial)
            throw SavedModelError(file: url, "cannot write the model: \(failure.description)")
        }
        guard Foundation.rename(partial.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: partial)
            throw SavedModelError(file: url, "cannot rename \(partial.lastPathComponent) into place: \(reason)")
        }
    }

    /// Reads and validates a model file: one ``SavedModelError`` naming the file for a
    /// missing file, a file that is not HDF5, another format version, a missing or
    /// malformed dataset or attribute, a shape that does not agree, or a NaN/∞ value.
    public init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { throw SavedModelError(file: url, "no such model file") }
        guard withHDF5({ isHDF5(url.path) }) else {
            throw SavedModelError(file: url, "not a Trawl model (not an HDF5 file; truncated or overwritten?)")
        }
        do {
            self = try withHDF5 {
                let file = try openFile(url.path, writable: false)
                defer { H5Fclose(file) }
                return try SavedModel(reading: file)
            }
        } catch let failure as HDF5Failure {
            throw SavedModelError(file: url, "not a valid Trawl model: \(failure.description)")
        } catch let error as ScorerError {
            throw SavedModelError(file: url, "not a valid Trawl model: \(error)")
        }
    }

    // MARK: Writing

    private func writeContents(_ file: hid_t) throws {
        try writeInt64Attribute(file, "format_version", [Self.formatVersion])
        try writeStringAttribute(file, "trawl_version", trawlVersion)
        try writeStringAttribute(file, "experiment", experiment)
        try writeInt64Attribute(file, "grid_point", [Int64(gridPoint)])
        try writeStringAttribute(file, "grid_parameters", try jsonString(gridParameters))

        try inGroup(file, "backbone", creating: true) { group in
            try writeStringAttribute(group, "name", backbone.name)
            try writeStringAttribute(group, "weights_sha256", backbone.weightsSHA256)
            try writeStringAttribute(group, "weights_path", backbone.weightsPath)
            try writeStringAttribute(group, "spec", backbone.specJSON)
        }
        try inGroup(file, "features", creating: true) { group in
            try writeInt64Attribute(group, "pooling", [Int64(aggregator.patchSize)])
            try writeInt64Attribute(group, "pretrain_dim", [Int64(aggregator.pretrainDimension ?? -1)])
            try writeInt64Attribute(group, "target_dim", [Int64(aggregator.targetDimension ?? -1)])
        }
        try inGroup(file, "scorer", creating: true) { group in
            try writeStringAttribute(group, "kind", scorer.kind)
            try writeScorer(group)
        }
        try inGroup(file, "threshold", creating: true) { group in
            try writeStringAttribute(group, "rule", threshold.rule)
            if let percentile = threshold.percentile { try writeDoubleAttribute(group, "percentile", percentile) }
            try writeDoubleAttribute(group, "value", threshold.value)
        }
        try inGroup(file, "normalisation", creating: true) { group in
            try writeDoubleAttribute(group, "min", scoreRange.lowerBound)
            try writeDoubleAttribute(group, "max", scoreRange.upperBound)
        }
        try writeDoubles(file, "training_scores", shape: [trainingScores.count], trainingScores)
    }

    private func writeScorer(_ group: hid_t) throws {
        switch scorer {
        case .patchcore(let patchcore):
            guard let index = patchcore.index else { throw HDF5Failure(description: "the PatchCore scorer is not fitted") }
            try writeInt64Attribute(group, "neighbours", [Int64(patchcore.neighbours)])
            try writeStringAttribute(group, "metric", patchcore.metric.rawValue)
            try writeInt64Attribute(group, "reweighting_neighbours", [Int64(patchcore.reweightingNeighbours ?? -1)])
            try writeDoubleAttribute(group, "blur_sigma", Double(patchcore.blurSigma))
            try writeStringAttribute(group, "map_normalization", patchcore.mapNormalization.rawValue)
            try writeInt64Attribute(group, "map_max_filter", [Int64(patchcore.mapMaxFilter)])
            let ratio: Double
            if case .fraction(let fraction)? = patchcore.coreset?.size { ratio = fraction } else { ratio = 1 }
            try writeDoubleAttribute(group, "coreset_ratio", ratio)
            try writeInt64Attribute(group, "coreset_projection_dim", [Int64(patchcore.coreset?.projectionDimension ?? 128)])
            try writeStringAttribute(group, "coreset_seed", String(patchcore.coreset?.seed ?? 0))
            try writeIndex(group, patchcore.approximateSearch)
            try writeFloats(group, "bank", shape: index.bank.shape, index.bank.data)
        case .knn(let knn):
            guard let index = knn.index else { throw HDF5Failure(description: "the kNN scorer is not fitted") }
            try writeInt64Attribute(group, "k", [Int64(knn.k)])
            try writeStringAttribute(group, "metric", knn.metric.rawValue)
            try writeStringAttribute(group, "aggregate", knn.aggregate.rawValue)
            try writeInt64Attribute(group, "scale", [knn.scalesByTrainingScores ? 1 : 0])
            try writeIndex(group, knn.approximateSearch)
            try writeFloats(group, "bank", shape: index.bank.shape, index.bank.data)
            try writeFloats(group, "loo_scores", shape: [knn.trainingScores.count], knn.trainingScores)
        case .mahalanobis(let mahalanobis):
            guard let fit = mahalanobis.gaussian else { throw HDF5Failure(description: "the Mahalanobis scorer is not fitted") }
            switch mahalanobis.estimator {
            case .ledoitWolf: try writeStringAttribute(group, "estimator", "ledoit_wolf")
            case .sampleWithRidge(let ridge):
                try writeStringAttribute(group, "estimator", "sample")
                try writeDoubleAttribute(group, "ridge", ridge)
            }
            try writeDoubleAttribute(group, "shrinkage", fit.shrinkage)
            try writeDoubles(group, "mean", shape: [fit.mean.count], fit.mean)
            try writeFloats(group, "whitening", shape: [fit.mean.count, fit.mean.count], fit.whitening)
        case .gmm(let gmm):
            guard let parameters = gmm.parameters else { throw HDF5Failure(description: "the GMM scorer is not fitted") }
            let (k, d) = (parameters.weights.count, parameters.means[0].count)
            try writeStringAttribute(group, "covariance", gmm.covarianceType.rawValue)
            try writeDoubleAttribute(group, "regularization", gmm.regCovar)
            try writeDoubles(group, "weights", shape: [k], parameters.weights)
            try writeDoubles(group, "means", shape: [k, d], parameters.means.flatMap { $0 })
            try writeFloats(group, "whitenings", shape: [k, parameters.whitenings[0].count],
                            parameters.whitenings.flatMap { $0 })
            try writeDoubles(group, "log_determinants", shape: [k], parameters.logDeterminants)
        case .ocsvm(let svm):
            guard let support = svm.support else { throw HDF5Failure(description: "the one-class SVM scorer is not fitted") }
            let (s, d) = (support.coefficients.count, support.trainingMean.count)
            try writeStringAttribute(group, "kernel", "rbf")
            try writeDoubleAttribute(group, "nu", svm.nu)
            switch svm.gamma {
            case .scale: try writeStringAttribute(group, "gamma_rule", "scale")
            case .value: try writeStringAttribute(group, "gamma_rule", "value")
            }
            try writeDoubleAttribute(group, "gamma", support.gamma)
            try writeDoubleAttribute(group, "tolerance", svm.tolerance)
            try writeDoubleAttribute(group, "rho", support.rho)
            try writeDoubles(group, "dual_coefficients", shape: [s], support.coefficients)
            try writeFloats(group, "support_vectors", shape: [s, d], support.centredVectors)
            try writeDoubles(group, "training_mean", shape: [d], support.trainingMean)
        }
    }

    // MARK: Reading

    private init(reading file: hid_t) throws {
        let version = try readInt64Attribute(file, "format_version").first ?? -1
        let writer = (try? readStringAttribute(file, "trawl_version")) ?? "an unknown version"
        guard Self.readableVersions.contains(version) else {
            throw HDF5Failure(description: "format version \(version) (written by Trawl \(writer)); "
                              + "this Trawl reads format versions \(Self.readableVersions.lowerBound)–\(Self.readableVersions.upperBound)"
                              + " — re-run the experiment to save it again")
        }
        trawlVersion = writer
        experiment = try readStringAttribute(file, "experiment")
        gridPoint = Int(try scalarInt(file, "grid_point"))
        let parameters = try readStringAttribute(file, "grid_parameters")
        guard let decoded = try? JSONDecoder().decode([String: String].self, from: Data(parameters.utf8)) else {
            throw HDF5Failure(description: "attribute grid_parameters is not a JSON object of strings")
        }
        gridParameters = decoded

        backbone = try inGroup(file, "backbone") { group -> Backbone in
            Backbone(name: try readStringAttribute(group, "name"),
                     weightsSHA256: try readStringAttribute(group, "weights_sha256"),
                     weightsPath: try readStringAttribute(group, "weights_path"),
                     specJSON: try readStringAttribute(group, "spec"))
        }
        let aggregator = try inGroup(file, "features") { group -> PatchFeatureAggregator in
            func optional(_ name: String) throws -> Int? {
                let value = try scalarInt(group, name)
                return value < 0 ? nil : Int(value)
            }
            return PatchFeatureAggregator(patchSize: Int(try scalarInt(group, "pooling")),
                                          pretrainDimension: try optional("pretrain_dim"),
                                          targetDimension: try optional("target_dim"))
        }
        self.aggregator = aggregator
        scorer = try inGroup(file, "scorer") { try Self.readScorer($0, aggregator: aggregator, version: version) }
        threshold = try inGroup(file, "threshold") { group -> Threshold in
            let rule = try readStringAttribute(group, "rule")
            return Threshold(rule: rule,
                             percentile: rule == "train_percentile" ? try readDoubleAttribute(group, "percentile") : nil,
                             value: try readDoubleAttribute(group, "value"))
        }
        let scores = try readDoubles(file, "training_scores")
        guard scores.shape.count == 1, !scores.values.isEmpty else {
            throw HDF5Failure(description: "dataset training_scores has shape \(scores.shape), expected [N ≥ 1]")
        }
        try requireFinite(scores.values, "training_scores")
        trainingScores = scores.values
        scoreRange = try inGroup(file, "normalisation") { group -> ClosedRange<Double> in
            let (low, high) = (try readDoubleAttribute(group, "min"), try readDoubleAttribute(group, "max"))
            guard low.isFinite, high.isFinite, low <= high else {
                throw HDF5Failure(description: "attributes min \(low) and max \(high) are not a finite range")
            }
            return low...high
        }
        guard threshold.value.isFinite else { throw HDF5Failure(description: "threshold value is \(threshold.value)") }
    }

    /// The fitted scorer in `group` of a file of format `version`; PatchCore gets `aggregator`
    /// (the model's `/features`).
    private static func readScorer(_ group: hid_t, aggregator: PatchFeatureAggregator, version: Int64) throws -> FittedScorer {
        let kind = try readStringAttribute(group, "kind")
        func metric() throws -> DistanceMetric {
            let name = try readStringAttribute(group, "metric")
            guard let metric = DistanceMetric(rawValue: name) else {
                throw HDF5Failure(description: "scorer metric \"\(name)\" is not one of "
                                  + DistanceMetric.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return metric
        }
        switch kind {
        case "patchcore":
            let ratio = try readDoubleAttribute(group, "coreset_ratio")
            guard ratio > 0 && ratio <= 1 else { throw HDF5Failure(description: "coreset_ratio \(ratio) is not in (0, 1]") }
            guard let seed = UInt64(try readStringAttribute(group, "coreset_seed")) else {
                throw HDF5Failure(description: "attribute coreset_seed is not an unsigned integer")
            }
            let reweighting = try scalarInt(group, "reweighting_neighbours")
            var scorer = PatchCoreScorer(
                aggregator: aggregator,
                coreset: ratio < 1 ? CoresetSampler(size: .fraction(ratio),
                                                    projectionDimension: Int(try scalarInt(group, "coreset_projection_dim")),
                                                    seed: seed, showsProgress: false) : nil,
                neighbours: Int(try scalarInt(group, "neighbours")), metric: try metric(),
                reweightingNeighbours: reweighting < 0 ? nil : Int(reweighting),
                blurSigma: Float(try readDoubleAttribute(group, "blur_sigma")),
                mapNormalization: version < 4 ? .none : try readMapNormalization(group),
                mapMaxFilter: version < 4 ? 1 : try readMapMaxFilter(group),
                approximateSearch: try readIndex(group))
            try scorer.restore(bank: try matrix(group, "bank"))
            return .patchcore(scorer)
        case "knn":
            let aggregateName = try readStringAttribute(group, "aggregate")
            guard let aggregate = KNNScorer.Aggregate(rawValue: aggregateName) else {
                throw HDF5Failure(description: "aggregate \"\(aggregateName)\" is not one of "
                                  + KNNScorer.Aggregate.allCases.map(\.rawValue).joined(separator: ", "))
            }
            var scorer = KNNScorer(k: Int(try scalarInt(group, "k")), metric: try metric(), aggregate: aggregate,
                                   scalesByTrainingScores: try scalarInt(group, "scale") != 0,
                                   approximateSearch: try readIndex(group))
            let bank = try matrix(group, "bank")
            let loo = try readFloatDataset(group, "loo_scores")
            guard loo.shape == [bank.shape[0]] else {
                throw HDF5Failure(description: "dataset loo_scores has shape \(loo.shape), expected [\(bank.shape[0])]")
            }
            try requireFinite(loo.values.map(Double.init), "loo_scores")
            try scorer.restore(bank: bank, trainingScores: loo.values)
            return .knn(scorer)
        case "mahalanobis":
            let estimatorName = try readStringAttribute(group, "estimator")
            let estimator: CovarianceEstimator
            switch estimatorName {
            case "ledoit_wolf": estimator = .ledoitWolf
            case "sample": estimator = .sampleWithRidge(try readDoubleAttribute(group, "ridge"))
            default: throw HDF5Failure(description: "estimator \"\(estimatorName)\" is not ledoit_wolf or sample")
            }
            let mean = try readDoubles(group, "mean")
            guard mean.shape.count == 1, !mean.values.isEmpty else {
                throw HDF5Failure(description: "dataset mean has shape \(mean.shape), expected [D]")
            }
            try requireFinite(mean.values, "mean")
            let whitening = try matrix(group, "whitening")
            guard whitening.shape == [mean.values.count, mean.values.count] else {
                throw HDF5Failure(description: "dataset whitening has shape \(whitening.shape), expected [\(mean.values.count), \(mean.values.count)]")
            }
            var scorer = MahalanobisScorer(estimator: estimator)
            scorer.restore(try GaussianFit(mean: mean.values, whitening: whitening.data,
                                           shrinkage: try readDoubleAttribute(group, "shrinkage")))
            return .mahalanobis(scorer)
        case "gmm":
            let covarianceName = try readStringAttribute(group, "covariance")
            guard let covariance = GMMScorer.CovarianceType(rawValue: covarianceName) else {
                throw HDF5Failure(description: "covariance \"\(covarianceName)\" is not full or diagonal")
            }
            let weights = try readDoubles(group, "weights")
            let means = try readDoubles(group, "means")
            let whitenings = try matrix(group, "whitenings")
            let logDeterminants = try readDoubles(group, "log_determinants")
            try [weights.values, means.values, logDeterminants.values].forEach { try requireFinite($0, "GMM parameters") }
            let k = weights.values.count
            guard weights.shape == [k], means.shape.count == 2, means.shape[0] == k, whitenings.shape[0] == k,
                  logDeterminants.shape == [k] else {
                throw HDF5Failure(description: "GMM datasets disagree: weights \(weights.shape), means \(means.shape), "
                                  + "whitenings \(whitenings.shape), log_determinants \(logDeterminants.shape)")
            }
            let d = means.shape[1], w = whitenings.shape[1]
            var scorer = GMMScorer(components: k, covarianceType: covariance,
                                   regCovar: try readDoubleAttribute(group, "regularization"))
            try scorer.restore(GMMScorer.Parameters(
                weights: weights.values,
                means: (0..<k).map { Array(means.values[$0 * d ..< ($0 + 1) * d]) },
                whitenings: (0..<k).map { Array(whitenings.data[$0 * w ..< ($0 + 1) * w]) },
                logDeterminants: logDeterminants.values))
            return .gmm(scorer)
        case "ocsvm":
            let kernel = try readStringAttribute(group, "kernel")
            guard kernel == "rbf" else { throw HDF5Failure(description: "kernel \"\(kernel)\" is not rbf") }
            let gammaRule = try readStringAttribute(group, "gamma_rule")
            let gamma = try readDoubleAttribute(group, "gamma")
            let rule: OneClassSVMScorer.Gamma
            switch gammaRule {
            case "scale": rule = .scale
            case "value": rule = .value(gamma)
            default: throw HDF5Failure(description: "gamma_rule \"\(gammaRule)\" is not scale or value")
            }
            let coefficients = try readDoubles(group, "dual_coefficients")
            let vectors = try matrix(group, "support_vectors")
            let mean = try readDoubles(group, "training_mean")
            guard coefficients.shape == [vectors.shape[0]], mean.shape == [vectors.shape[1]] else {
                throw HDF5Failure(description: "one-class SVM datasets disagree: dual_coefficients \(coefficients.shape), "
                                  + "support_vectors \(vectors.shape), training_mean \(mean.shape)")
            }
            try requireFinite(coefficients.values, "dual_coefficients")
            try requireFinite(mean.values, "training_mean")
            var scorer = OneClassSVMScorer(nu: try readDoubleAttribute(group, "nu"), gamma: rule,
                                           tolerance: try readDoubleAttribute(group, "tolerance"))
            try scorer.restore(OneClassSVMScorer.Support(
                gamma: gamma, rho: try readDoubleAttribute(group, "rho"), coefficients: coefficients.values,
                centredVectors: vectors.data, trainingMean: mean.values))
            return .ocsvm(scorer)
        default:
            throw HDF5Failure(description: "scorer kind \"\(kind)\" is not one of patchcore, knn, mahalanobis, gmm, ocsvm")
        }
    }
}

/// A float32 dataset `[rows ≥ 1, columns ≥ 1]` with finite values, as a tensor.
/// The search index of a bank scorer as attributes: `index_kind` (`exact`, `ivf_flat`,
/// `hnsw`, `ivf_pq`), and for a faiss kind `index_parameters` (`[lists, probe]`,
/// `[m, ef_search]`, `[lists, code_bytes, probe, rerank]`) and `index_seed`. The faiss
/// index itself is not stored: loading builds it again from the bank, bit-identically.
private func writeIndex(_ group: hid_t, _ search: ApproximateSearch?) throws {
    guard let search else { return try writeStringAttribute(group, "index_kind", "exact") }
    try writeStringAttribute(group, "index_kind", search.kind.name)
    let parameters: [Int]
    switch search.kind {
    case let .ivfFlat(lists, probe): parameters = [lists, probe]
    case let .hnsw(m, efSearch): parameters = [m, efSearch]
    case let .ivfPQ(lists, codeBytes, probe, rerank): parameters = [lists, codeBytes, probe, rerank]
    }
    try writeInt64Attribute(group, "index_parameters", parameters.map(Int64.init))
    try writeStringAttribute(group, "index_seed", String(search.seed))
}

/// PatchCore's `map_normalization` (format 4; format 3 models made raw maps).
private func readMapNormalization(_ group: hid_t) throws -> MapNormalization {
    let name = try readStringAttribute(group, "map_normalization")
    guard let normalization = MapNormalization(rawValue: name) else {
        throw HDF5Failure(description: "map_normalization \"\(name)\" is not one of "
                          + MapNormalization.allCases.map(\.rawValue).joined(separator: ", "))
    }
    return normalization
}

/// PatchCore's `map_max_filter` (format 4; format 3 models filtered nothing).
private func readMapMaxFilter(_ group: hid_t) throws -> Int {
    let side = try scalarInt(group, "map_max_filter")
    guard side >= 1 && side % 2 == 1 else { throw HDF5Failure(description: "map_max_filter \(side) is not odd and positive") }
    return Int(side)
}

/// The index ``writeIndex(_:_:)`` wrote; a model without `index_kind` (saved before
/// indexes existed) searches exactly.
private func readIndex(_ group: hid_t) throws -> ApproximateSearch? {
    guard H5Aexists(group, "index_kind") > 0 else { return nil }
    let kind = try readStringAttribute(group, "index_kind")
    if kind == "exact" { return nil }
    let values = try readInt64Attribute(group, "index_parameters").map { Int($0) }
    guard let seed = UInt64(try readStringAttribute(group, "index_seed")) else {
        throw HDF5Failure(description: "attribute index_seed is not an unsigned integer")
    }
    let counts = ["ivf_flat": 2, "hnsw": 2, "ivf_pq": 4]
    guard let count = counts[kind] else {
        throw HDF5Failure(description: "index_kind \"\(kind)\" is not one of exact, ivf_flat, hnsw, ivf_pq")
    }
    guard values.count == count, values.allSatisfy({ $0 >= 1 }) else {
        throw HDF5Failure(description: "index_parameters \(values) of \(kind): expected \(count) positive integers")
    }
    switch kind {
    case "ivf_flat": return ApproximateSearch(.ivfFlat(lists: values[0], probe: values[1]), seed: seed)
    case "hnsw": return ApproximateSearch(.hnsw(m: values[0], efSearch: values[1]), seed: seed)
    default:
        return ApproximateSearch(.ivfPQ(lists: values[0], codeBytes: values[1], probe: values[2], rerank: values[3]),
                                 seed: seed)
    }
}

private func matrix(_ group: hid_t, _ name: String) throws -> Tensor {
    let stored = try readFloatDataset(group, name)
    guard stored.shape.count == 2, stored.shape[0] > 0, stored.shape[1] > 0 else {
        throw HDF5Failure(description: "dataset \(name) has shape \(stored.shape), expected [rows, columns]")
    }
    if let bad = stored.values.firstIndex(where: { !$0.isFinite }) {
        throw HDF5Failure(description: "dataset \(name) holds \(stored.values[bad]) at flat index \(bad)")
    }
    return Tensor(shape: stored.shape, data: stored.values)
}

private func requireFinite(_ values: [Double], _ name: String) throws {
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
        throw HDF5Failure(description: "dataset \(name) holds \(values[bad]) at flat index \(bad)")
    }
}

private func scalarInt(_ location: hid_t, _ name: String) throws -> Int64 {
    let values = try readInt64Attribute(location, name)
    guard values.count == 1 else { throw HDF5Failure(description: "attribute \(name) is not one integer") }
    return values[0]
}

/// Runs `body` on group `name` (created first when `creating`), closing it afterwards.
@discardableResult
private func inGroup<R>(_ location: hid_t, _ name: String, creating: Bool = false, _ body: (hid_t) throws -> R) throws -> R {
    let group = creating ? try createOpenGroup(location, name) : try openGroup(location, name)
    defer { H5Gclose(group) }
    do {
        return try body(group)
    } catch let failure as HDF5Failure {
        throw HDF5Failure(description: "/\(name): \(failure.description)")
    }
}

private func jsonString(_ object: [String: String]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try encoder.encode(object), as: UTF8.self)
}
