import EmbeddingCache
import Foundation
import Metrics
import SavedModels
import Scorers
import Tensors

/// What one grid point produced.
struct PointResult {
    var point: GridPoint
    var scorer: FittedScorer
    /// One score per test sample, in test order; larger is more anomalous.
    var testScores: [Double]
    /// One score per training sample when the threshold rule needs them.
    var trainScores: [Double]?
    var metrics: [MetricName: Double]
    var threshold: Double
    var confusion: ConfusionMatrix
    var roc: ROCCurve
    var precisionRecall: PrecisionRecallCurve
    var fitSeconds: Double
    var scoreSeconds: Double
    /// How the coreset was found (PatchCore with a coreset and a coreset cache only).
    var coresetCache: CoresetCache.Outcome?
    /// The faiss index's recall against exact search and its timings (faiss indexes only).
    var indexCheck: IndexCheck?
}

/// How a grid point's faiss index compares with exact search on a seeded sample of at most
/// ``IndexCheck/sampleSize`` test queries (PatchCore: patches; kNN: image embeddings).
struct IndexCheck {
    static let sampleSize = 1000
    /// Share of the sample whose nearest bank row the index finds (faiss's recall@1).
    var recallAtOne: Double
    /// Wall time of building the index / searching the sample with it / searching exactly, seconds.
    var buildSeconds: Double
    var searchSeconds: Double
    var exactSearchSeconds: Double
}

/// The features of the training and test samples, as rows of the run's features.
struct FeatureSplits {
    /// The samples of all dataset points, then the augmented copies of their training images.
    var features: RunFeatures
    var trainRows: [Int]
    var testRows: [Int]
    /// Rows of the augmented copies of the training images, in `trainRows` order, per
    /// augmentation (PatchCore's `features.augment`).
    var augmentedTrainRows: [Augmentation: [Int]]
    /// SHA-256 of the embedding cache key of the samples' features, and the ids of the
    /// training rows in order: what identifies the training features in coreset cache keys.
    var featureKeySHA256: String
    var trainIDs: [String]

    /// The rows of the memory bank of `augment`: the training rows, then each
    /// augmentation's copies; and their ids (a copy's id ends in `#hflip` etc.).
    func bank(_ augment: [Augmentation]) -> (rows: [Int], ids: [String]) {
        (trainRows + augment.flatMap { augmentedTrainRows[$0]! },
         trainIDs + augment.flatMap { augmentation in trainIDs.map { "\($0)#\(augmentation.rawValue)" } })
    }
    /// Test labels, true = anomalous.
    var testLabels: [Bool]
    /// Ground-truth masks of the test samples on the anomaly-map grid, when pixel metrics are asked for.
    var testMasks: [[Bool]]?
    /// Anomaly-map size, pixels: the network input (crop), or the scaled image when tiled.
    var mapHeight: Int
    var mapWidth: Int
}

/// Images scored per PatchCore batch: at most 32, and images of at most about 4 million
/// anomaly-map pixels in all (bounds the memory of patch features, distances and maps; a
/// 1500×900 px tiled image is scored 2 at a time). Scores do not depend on the batch.
func scoringBatch(mapHeight: Int, mapWidth: Int) -> Int {
    max(1, min(32, 4_000_000 / (mapHeight * mapWidth)))
}

/// Fits the scorer of `point` on the training rows (reusing a PatchCore coreset selection
/// saved in `coresets` when there is a valid one), scores the test rows, computes metrics.
/// `classifierMAP` is the species classifier's MAP@20 when the spec has a classifier.
func evaluate(_ point: GridPoint, spec: ExperimentSpec, features: FeatureSplits, coresets: CoresetCache,
              classifierMAP: Double?, showsProgress: Bool) throws -> PointResult {
    let clock = Date()
    let (scorer, coresetOutcome) = try fit(point, spec: spec, features: features, coresets: coresets,
                                           showsProgress: showsProgress)
    let fitSeconds = Date().timeIntervalSince(clock)

    let scoringClock = Date()
    let needsMaps = spec.metrics.contains(.pixelAUROC) || spec.metrics.contains(.aupro)
    var maps = [[Float]]()
    // Only PatchCore's scoring is long enough to need a progress bar.
    let progress = showsProgress && point.scorer.kind == "patchcore"
        ? ProgressReporter("scoring point \(point.index)", total: features.testRows.count) : nil
    let testScores = try scoreImages(features.testRows, with: scorer, features: features.features,
                                     mapHeight: features.mapHeight, mapWidth: features.mapWidth,
                                     keepMaps: needsMaps, progress: progress) { maps += $0 }
    progress?.finish()
    if let first = testScores.first, testScores.allSatisfy({ $0 == first }) {
        let parameters = point.parameters.map { "\($0.name) = \($0.value)" }.joined(separator: ", ")
        throw RunError("grid point \(point.index) (\(parameters)): all \(testScores.count) test scores are equal "
                       + "(\(first)), so the scorer ranks nothing and every metric would be meaningless; "
                       + "check the scorer's parameters (e.g. a ridge or regularization that swamps the features)")
    }
    var trainScores: [Double]?
    if case .trainPercentile = spec.threshold {
        trainScores = try trainingScores(of: scorer, features: features)
    }
    let scoreSeconds = Date().timeIntervalSince(scoringClock)
    let indexCheck = try checkIndex(of: scorer, features: features, seed: spec.seed)

    let labels = features.testLabels
    var metrics = [MetricName: Double]()
    for metric in spec.metrics {
        switch metric {
        case .auroc: metrics[metric] = try auroc(scores: testScores, labels: labels)
        case .ap: metrics[metric] = try averagePrecision(scores: testScores, labels: labels)
        case .sauc: metrics[metric] = try scaledAUROC(scores: testScores, labels: labels)
        case .f1Max: metrics[metric] = try f1Max(scores: testScores, labels: labels).f1
        case .fprAt95TPR: metrics[metric] = try falsePositiveRate(scores: testScores, labels: labels, atTruePositiveRate: 0.95)
        case .auprIn: metrics[metric] = try areaUnderPRIn(scores: testScores, labels: labels)
        case .auprOut: metrics[metric] = try areaUnderPROut(scores: testScores, labels: labels)
        case .pixelAUROC, .aupro:
            let samples = zip(maps, features.testMasks!).map {
                SegmentationSample(anomalyMap: $0, mask: $1, height: features.mapHeight, width: features.mapWidth)
            }
            metrics[metric] = metric == .aupro ? try aupro(samples) : try pixelAUROC(samples)
        case .mapAt20: metrics[metric] = classifierMAP!
        case .fathomnetScore:
            metrics[metric] = 0.5 * (try scaledAUROC(scores: testScores, labels: labels) + classifierMAP!)
        }
    }
    let threshold: Double
    switch spec.threshold {
    case .f1Max: threshold = try f1Max(scores: testScores, labels: labels).threshold
    case .trainPercentile(let percentile):
        threshold = try percentileThreshold(normalScores: trainScores!, percentile: percentile)
    case .fixed(let value): threshold = value
    }
    return PointResult(
        point: point, scorer: scorer, testScores: testScores, trainScores: trainScores, metrics: metrics,
        threshold: threshold, confusion: try ConfusionMatrix(scores: testScores, labels: labels, threshold: threshold),
        roc: try rocCurve(scores: testScores, labels: labels),
        precisionRecall: try precisionRecallCurve(scores: testScores, labels: labels),
        fitSeconds: fitSeconds, scoreSeconds: scoreSeconds, coresetCache: coresetOutcome, indexCheck: indexCheck)
}

/// The recall and timings of `scorer`'s faiss index on up to ``IndexCheck/sampleSize``
/// test queries drawn with `seed`; nil when the scorer searches exactly.
private func checkIndex(of scorer: FittedScorer, features: FeatureSplits, seed: UInt64) throws -> IndexCheck? {
    let index: ApproximateNeighbourIndex
    let queries: Tensor
    switch scorer {
    case .patchcore(let patchcore):
        guard let approximate = patchcore.approximateIndex else { return nil }
        index = approximate
        // Patches are sampled from the test images' patches, aggregated one image at a time.
        func patches(_ row: Int) throws -> Tensor {
            try features.features.patchFeatures([row], aggregator: patchcore.aggregator)
        }
        let first = try patches(features.testRows[0])
        let (perImage, dimension) = (first.shape[0], first.shape[1])
        let sample = sampledRows(features.testRows.count * perImage, seed: seed)
        var rows = [Float]()
        var next = sample.startIndex
        for (position, row) in features.testRows.enumerated() where next < sample.endIndex {
            let end = (position + 1) * perImage
            guard sample[next] < end else { continue }
            let imagePatches = position == 0 ? first : try patches(row)
            while next < sample.endIndex && sample[next] < end {
                let patch = sample[next] - position * perImage
                rows += imagePatches.data[patch * dimension ..< (patch + 1) * dimension]
                next += 1
            }
        }
        queries = Tensor(shape: [sample.count, dimension], data: rows)
    case .knn(let knn):
        guard let approximate = knn.approximateIndex else { return nil }
        index = approximate
        let embeddings = features.features.embeddings(features.testRows)
        queries = gatherRows(of: embeddings, sampledRows(embeddings.shape[0], seed: seed))
    case .mahalanobis, .gmm, .ocsvm:
        return nil
    }
    let check = try index.recallAtOne(queries)
    return IndexCheck(recallAtOne: check.recall, buildSeconds: index.buildSeconds, searchSeconds: check.seconds,
                      exactSearchSeconds: check.exactSeconds)
}

/// `min(count, IndexCheck.sampleSize)` distinct rows of `0..<count` drawn with `seed`, ascending.
private func sampledRows(_ count: Int, seed: UInt64) -> [Int] {
    guard count > IndexCheck.sampleSize else { return Array(0..<count) }
    var random = SeededRandom(seed: seed)
    var rows = Array(0..<count)
    for i in 0..<IndexCheck.sampleSize {
        rows.swapAt(i, i + Int(random.next() % UInt64(count - i)))
    }
    return rows.prefix(IndexCheck.sampleSize).sorted()
}

/// Reference settings the spec does not expose: anomalib's re-weighting support `b`.
private let reweightingNeighbours = 9

private func distance(_ name: DistanceName) -> DistanceMetric {
    switch name {
    case .euclidean: return .euclidean
    case .squaredEuclidean: return .squaredEuclidean
    case .cosine: return .cosine
    }
}

private func fit(_ point: GridPoint, spec: ExperimentSpec, features: FeatureSplits, coresets: CoresetCache,
                 showsProgress: Bool) throws -> (FittedScorer, CoresetCache.Outcome?) {
    let trainEmbeddings = features.features.embeddings(features.trainRows)
    switch point.scorer {
    case .patchcore(let parameters):
        let bank = features.bank(point.features.augment.value)
        let ratio = parameters.coresetRatio.value
        var scorer = PatchCoreScorer(
            aggregator: aggregator(point.features),
            coreset: ratio < 1 ? CoresetSampler(size: .fraction(ratio), projectionDimension: parameters.projectionDim,
                                                seed: spec.seed, showsProgress: showsProgress && isatty(STDERR_FILENO) != 0) : nil,
            neighbours: parameters.k.value, metric: distance(parameters.metric.value),
            reweightingNeighbours: parameters.reweighting.value ? reweightingNeighbours : nil,
            blurSigma: Float(parameters.blurSigma), mapNormalization: parameters.mapNormalization,
            mapMaxFilter: parameters.mapMaxFilter,
            approximateSearch: parameters.index.value.map { ApproximateSearch($0, seed: spec.seed) })
        // The training images' patch features, read and aggregated one image at a time.
        let bankFeatures = try features.features.patchFeatures(bank.rows, aggregator: scorer.aggregator)
        guard let sampler = scorer.coreset else {
            try scorer.fit(bank: bankFeatures)
            return (.patchcore(scorer), nil)
        }
        let key = CoresetCache.Key(featureKeySHA256: features.featureKeySHA256, trainImageIDs: bank.ids,
                                   taps: spec.backbone.taps, aggregator: scorer.aggregator, sampler: sampler,
                                   shards: parameters.coresetShards)
        // Bank rows grouped by their image's shard (rows are image-major), as Slurm array tasks split the images.
        let rowsPerImage = bankFeatures.shape[0] / bank.ids.count
        let shards = parameters.coresetShards > 1
            ? (0..<parameters.coresetShards).map { shard in
                bank.ids.indices.filter { ImageShard.index(of: bank.ids[$0], count: parameters.coresetShards) == shard }
                    .flatMap { $0 * rowsPerImage ..< ($0 + 1) * rowsPerImage }
            } : nil
        let outcome = try coresets.fit(&scorer, bank: bankFeatures, key: key, shards: shards)
        return (.patchcore(scorer), outcome)
    case .knn(let parameters):
        var scorer = KNNScorer(k: parameters.k.value, metric: distance(parameters.metric.value),
                               aggregate: parameters.aggregate.value == .kth ? .kth : .mean,
                               scalesByTrainingScores: parameters.scale,
                               approximateSearch: parameters.index.value.map { ApproximateSearch($0, seed: spec.seed) })
        try scorer.fit(trainEmbeddings)
        return (.knn(scorer), nil)
    case .mahalanobis(let parameters):
        let estimator: CovarianceEstimator = parameters.estimator.value == .ledoitWolf
            ? .ledoitWolf : .sampleWithRidge(parameters.ridge.value)
        var scorer = MahalanobisScorer(estimator: estimator)
        try scorer.fit(trainEmbeddings)
        return (.mahalanobis(scorer), nil)
    case .gmm(let parameters):
        var scorer = GMMScorer(
            components: parameters.components.value,
            covarianceType: parameters.covariance.value == .full ? .full : .diagonal,
            regCovar: parameters.regularization, maxIterations: parameters.iterations, seed: spec.seed)
        try scorer.fit(trainEmbeddings)
        return (.gmm(scorer), nil)
    case .ocsvm(let parameters):
        let gamma: OneClassSVMScorer.Gamma
        switch parameters.gamma.value {
        case .scale: gamma = .scale
        case .value(let value): gamma = .value(value)
        }
        var scorer = OneClassSVMScorer(nu: parameters.nu.value, gamma: gamma)
        try scorer.fit(trainEmbeddings)
        return (.ocsvm(scorer), nil)
    }
}

/// Scores of the training rows (kNN: its leave-one-out scores, scaled when it scales), in
/// training order and ``scoreImages`` units.
func trainingScores(of scorer: FittedScorer, features: FeatureSplits) throws -> [Double] {
    if case .knn(let knn) = scorer { return knn.scaledTrainingScores.map(Double.init) }
    return try scoreImages(features.trainRows, with: scorer, features: features.features,
                           mapHeight: features.mapHeight, mapWidth: features.mapWidth,
                           keepMaps: false, progress: nil) { _ in }
}

func aggregator(_ features: FeatureSpec) -> PatchFeatureAggregator {
    PatchFeatureAggregator(patchSize: features.pooling.value, pretrainDimension: features.pretrainDim.value,
                           targetDimension: features.targetDim.value)
}

/// Scores of `rows` (of `features`) in order: what a run scores its test images with and
/// what `trawl score` scores new images with. PatchCore reads the rows' taps from the cache
/// a batch at a time (advancing `progress`) and hands each batch's anomaly maps
/// (`[mapHeight · mapWidth]` per image) to `maps` when `keepMaps` is set; the other scorers
/// score the global embeddings.
func scoreImages(_ rows: [Int], with scorer: FittedScorer, features: RunFeatures, mapHeight: Int, mapWidth: Int,
                 keepMaps: Bool, progress: ProgressReporter?, maps: ([[Float]]) -> Void) throws -> [Double] {
    switch scorer {
    case .patchcore(let patchcore):
        var scores = [Double]()
        scores.reserveCapacity(rows.count)
        let batchSize = scoringBatch(mapHeight: mapHeight, mapWidth: mapWidth)
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            let batch = rows[start..<min(start + batchSize, rows.count)]
            if keepMaps {
                let result = try patchcore.score(taps: features.taps(batch), imageHeight: mapHeight, imageWidth: mapWidth)
                scores += result.imageScores.map(Double.init)
                maps((0..<batch.count).map { result.anomalyMaps.slice($0).data })
            } else {
                scores += try patchcore.imageScores(taps: features.taps(batch)).map(Double.init)
            }
            progress?.advance(by: batch.count)
        }
        return scores
    case .knn(let knn): return try knn.score(features.embeddings(rows)).map(Double.init)
    case .mahalanobis(let mahalanobis): return try mahalanobis.score(features.embeddings(rows)).map(Double.init)
    case .gmm(let gmm): return try gmm.score(features.embeddings(rows)).map(Double.init)
    case .ocsvm(let svm): return try svm.decisionFunction(features.embeddings(rows)).map { -$0 }
    }
}
