import Backbones
import Checksums
import Datasets
import EmbeddingCache
import Foundation
import Reports
import SavedModels
import Tensors

/// Where a run reads and writes.
public struct RunOptions: Sendable {
    /// Results go to `resultsDirectory/NAME/`.
    public var resultsDirectory: URL
    /// The embedding cache's folder.
    public var cacheDirectory: URL
    /// Registry assets installed by `make setup` (default backbone weights).
    public var assetsDirectory: URL
    /// Recorded in run.json and in cache keys.
    public var toolVersion: String
    /// Draw progress bars on stderr.
    public var showsProgress: Bool
    /// `trawl run --coreset-shards N`: overrides `scorer.coreset_shards` of every PatchCore
    /// grid point (recorded in run.json as `coreset_shards_override`); nil keeps the spec's.
    public var coresetShards: Int?
    /// `trawl run --feature-shards N`: the features must come from the N shard files of
    /// `trawl extract --shard I/N` (merged into the key's file; a missing or corrupt shard
    /// is an error naming it) unless the key's file is finished; nil extracts what is missing.
    public var featureShards: Int?

    /// Folders under `root` (default: the current directory): `Results/`,
    /// `.cache/embeddings/`, `.assets/`.
    public init(root: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                toolVersion: String, showsProgress: Bool = true) {
        resultsDirectory = root.appendingPathComponent("Results")
        cacheDirectory = root.appendingPathComponent(".cache/embeddings")
        assetsDirectory = root.appendingPathComponent(".assets")
        self.toolVersion = toolVersion
        self.showsProgress = showsProgress
    }
}

/// A run's problems that are not a lower layer's: each names what is wrong.
public struct RunError: Error, Equatable, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}

/// What `trawl extract` reports.
public struct ExtractionSummary: Sendable {
    /// Images (augmented copies included) already in the cache / computed now.
    public var hits: Int
    public var misses: Int
    /// The cache files written or found (a shard's file, or the whole key's when it was finished).
    public var files: [URL]
    /// The rows of the files read, to stream one image at a time (none for a shard with
    /// nothing to extract): features first, then augmented features when the spec has them.
    public var rows: [CachedRows]
}

/// What a finished run reports.
public struct RunSummary: Sendable {
    /// `Results/NAME/`.
    public var resultsDirectory: URL
    /// The first metric of the spec, at the grid point where it is best.
    public var headline: (metric: MetricName, value: Double, point: Int)
    /// Images read from the embedding cache / computed, augmented training copies included.
    public var cacheHits: Int
    public var cacheMisses: Int
    /// Grid points whose PatchCore coreset selection was reused / computed (and saved).
    public var coresetCacheHits: Int
    public var coresetCacheMisses: Int
    public var wallSeconds: Double
}

/// Runs an experiment: dataset → samples → backbone features (through the embedding
/// cache) → per grid point scorer fit and scores → metrics → `Results/NAME/`.
public struct ExperimentRunner {
    public let spec: ExperimentSpec
    /// The spec file (its bytes are hashed into run.json).
    public let specFile: URL
    public let options: RunOptions
    /// Receives the lines a run prints (counts, tables, where results are).
    public var log: (String) -> Void = { print($0) }

    public init(spec: ExperimentSpec, specFile: URL, options: RunOptions) {
        self.spec = spec
        self.specFile = specFile
        self.options = options
    }

    public func run() throws -> RunSummary {
        let start = Date()
        let spec = try options.coresetShards.map { try self.spec.withCoresetShards($0, file: specFile) } ?? self.spec
        var stages = [RunRecord.Stage]()
        func stage<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let clock = Date()
            defer { stages.append(RunRecord.Stage(name: name, seconds: Date().timeIntervalSince(clock))) }
            return try body()
        }

        let specBytes = try Data(contentsOf: specFile)
        let specHash = SHA256.hash(specBytes).hex

        // Results: writable, and this run alone writes them (before any computation).
        let destination = options.resultsDirectory.appendingPathComponent(spec.name)
        let publisher = ResultsPublisher(destination: destination, keeping: [Baseline.fileName])
        let resultsLock = try publisher.lock(waiting: log)
        defer { resultsLock.release() }

        let inputs = try self.inputs { stages.append($0) }
        let (samples, loaded, backbone, weightsFile, weightsSHA256, pipeline, mapSize) =
            (inputs.samples, inputs.loaded, inputs.backbone, inputs.weightsFile, inputs.weightsSHA256, inputs.pipeline,
             inputs.mapSize)
        func extract(_ items: [ExtractionItem], _ name: String) throws -> ExtractedFeatures {
            try stage(name) { try self.extract(items, name, inputs: inputs, specHash: specHash, shard: nil) }
        }
        let extracted = try extract(inputs.sampleItems, "features")
        let augmented = try inputs.augmentedItems.isEmpty ? nil : extract(inputs.augmentedItems, "augmented features")
        // Per augmentation: sample row → the row of its copy (after all samples' rows).
        let augmentedRows = Dictionary(uniqueKeysWithValues: inputs.augmentations.enumerated().map { position, augmentation in
            (augmentation, Dictionary(uniqueKeysWithValues: inputs.trainRows.enumerated().map { index, row in
                (row, samples.count + position * inputs.trainRows.count + index)
            }))
        })

        // Tap maps stay in the cache, read an image at a time; only the global embeddings are held.
        let features = try stage("global embeddings") { try RunFeatures(samples: extracted, augmented: augmented) }
        let needsMasks = spec.metrics.contains(.pixelAUROC) || spec.metrics.contains(.aupro)
        let splits = try loaded.map { point in
            FeatureSplits(
                features: features, trainRows: point.trainRows, testRows: point.testRows,
                augmentedTrainRows: augmentedRows.mapValues { rows in point.trainRows.map { rows[$0]! } },
                featureKeySHA256: extracted.key.sha256, trainIDs: point.train.map(\.id),
                testLabels: point.test.map(\.label.isAnomalous),
                testMasks: try needsMasks ? stage("masks") {
                    try point.test.map { try pipeline.mask($0, height: mapSize.height, width: mapSize.width) }
                } : nil,
                mapHeight: mapSize.height, mapWidth: mapSize.width)
        }

        // The species classifier, once per dataset point: it does not depend on the scorer.
        let classifiers = try spec.classifier.map { classifierSpec in
            try loaded.indices.map { index in
                let classifier = try stage(loaded.count > 1 ? "classifier \(index)" : "classifier") {
                    try classify(classifierSpec, dataset: loaded[index], features: splits[index])
                }
                log(String(format: "classifier%@: %d categories, MAP@20 %.4f",
                           loaded.count > 1 ? " (dataset point \(index))" : "", classifier.categories.count,
                           classifier.mapAt20))
                return classifier
            }
        }

        // Scorers, one grid point after another.
        let grid = spec.grid
        let coresets = CoresetCache(directory: options.cacheDirectory.appendingPathComponent("coresets"))
        var results = [PointResult]()
        for point in grid {
            let result = try stage("grid point \(point.index)") {
                try evaluate(point, spec: spec, features: splits[point.dataset], coresets: coresets,
                             classifierMAP: classifiers?[point.dataset].mapAt20,
                             showsProgress: options.showsProgress)
            }
            if let outcome = result.coresetCache {
                outcome.warnings.forEach { log("warning: \($0)") }
                log("coreset: " + (outcome.hit ? "reused" : "selected and saved") + " (\(outcome.file.path))")
            }
            let metrics = spec.metrics.map { "\($0.rawValue) \(String(format: "%.4f", result.metrics[$0]!))" }
            let swept = grid.count > 1 ? " [" + point.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "]" : ""
            log("point \(point.index)\(swept): " + metrics.joined(separator: ", ")
                + String(format: " (fit %.1f s, score %.1f s)", result.fitSeconds, result.scoreSeconds)
                + (result.indexCheck.map {
                    String(format: "; index recall@1 %.4f, built in %.2f s, query sample searched in %.3f s (exact %.3f s)",
                           $0.recallAtOne, $0.buildSeconds, $0.searchSeconds, $0.exactSearchSeconds)
                } ?? ""))
            results.append(result)
        }

        // Results.
        let headlineMetric = spec.metrics[0]
        let best = results.max { $0.metrics[headlineMetric]! < $1.metrics[headlineMetric]! }!
        // The embedding map shows the images of the best point's dataset point, as that point splits them.
        let bestDataset = loaded[best.point.dataset]
        let embeddingMap = try stage("embedding map") {
            try EmbeddingMap(rows: bestDataset.trainRows + bestDataset.testRows, embeddings: features.embeddings,
                             seed: spec.seed)
        }
        var samplesByRow = samples
        for (sample, row) in zip(bestDataset.train + bestDataset.test, bestDataset.trainRows + bestDataset.testRows) {
            samplesByRow[row] = sample
        }
        let report = ResultReport(spec: spec, datasets: loaded, results: results, classifiers: classifiers)
        var record = RunRecord(
            name: spec.name, description: spec.description, thresholdRule: spec.threshold.summary,
            toolVersion: options.toolVersion,
            startedAt: ISO8601DateFormatter().string(from: start),
            git: Provenance.git(in: specFile.deletingLastPathComponent()).map { RunRecord.Git(sha: $0.sha, dirty: $0.dirty) },
            spec: RunRecord.Spec(path: specFile.path, sha256: specHash),
            coresetShardsOverride: options.coresetShards,
            seed: spec.seed,
            backbone: RunRecord.Backbone(name: backbone.name, weights: weightsFile.path, weightsSha256: weightsSHA256,
                                         taps: spec.backbone.taps, resize: spec.backbone.resize,
                                         inputSize: spec.backbone.inputSize, tiling: spec.backbone.tiling),
            swiftVersion: Provenance.swiftVersion, os: Provenance.operatingSystem, libraries: Provenance.libraries,
            datasets: loaded.map { RunRecord.Dataset($0.dataset.report, parameters: $0.point.parameters) },
            cache: RunRecord.Cache(file: extracted.file.path, hits: extracted.hits, misses: extracted.misses,
                                   warnings: extracted.warnings),
            coresetCache: RunRecord.Coresets(results.compactMap(\.coresetCache)),
            gridPoints: grid.count,
            headline: RunRecord.Headline(metric: headlineMetric.rawValue, value: best.metrics[headlineMetric]!,
                                         point: best.point.index),
            stages: [], wallSeconds: 0, peakMemoryBytes: nil)
        let resultsClock = Date()
        try publisher.publish { staging in
            try report.writeTables(to: staging)
            if classifiers != nil { try staging.write(report.submissionTable(best).csv, to: "submission.csv") }
            try staging.write(embeddingMap.table(samplesByRow).csv, to: "embedding.csv")
            let models = spec.outputs.model == .all ? results : [best]
            for result in models {
                let model = try savedModel(result, splits: splits[result.point.dataset], weightsFile: weightsFile,
                                           weightsSHA256: weightsSHA256, backboneName: backbone.name)
                if result.point.index == best.point.index { try model.write(to: staging.url(for: "model.h5")) }
                if spec.outputs.model == .all {
                    try model.write(to: staging.url(for: "models/point-\(result.point.index).h5"))
                }
            }
            try writeGallery(result: best, report: report, dataset: bestDataset, pipeline: pipeline,
                             splits: splits[best.point.dataset], to: staging)
            // run.json after the tables, model and images: its "results" stage covers them.
            record.stages = stages + [RunRecord.Stage(name: "results", seconds: Date().timeIntervalSince(resultsClock))]
            record.wallSeconds = Date().timeIntervalSince(start)
            record.peakMemoryBytes = Provenance.peakMemoryBytes
            try staging.write(try record.json(), to: "run.json")
            // The report last: it is made from the folder's files alone.
            try Report.write(in: staging.directory)
        }

        log("")
        log(String(report.metricsTable.markdown.dropLast()))
        log("results: \(destination.path)/")
        log("report: \(destination.appendingPathComponent("report.html").path)")
        log(String(format: "headline: %@ = %.4f (grid point %d)", headlineMetric.rawValue,
                   best.metrics[headlineMetric]!, best.point.index))
        return RunSummary(resultsDirectory: destination, headline: (headlineMetric, best.metrics[headlineMetric]!, best.point.index),
                          cacheHits: extracted.hits + (augmented?.hits ?? 0), cacheMisses: extracted.misses + (augmented?.misses ?? 0),
                          coresetCacheHits: record.coresetCache.hits, coresetCacheMisses: record.coresetCache.misses,
                          wallSeconds: Date().timeIntervalSince(start))
    }

    /// `trawl extract`: the features a run of the spec needs (every sample, then the augmented
    /// training copies), of `shard` only when given (into the shard's own cache file), computed
    /// into the embedding cache; nothing is fitted or written to the results.
    public func extract(shard: ImageShard?) throws -> ExtractionSummary {
        let specHash = SHA256.hash(try Data(contentsOf: specFile)).hex
        let inputs = try self.inputs(measuringQuality: spec.qualityFilter != nil) { _ in }
        var summary = ExtractionSummary(hits: 0, misses: 0, files: [], rows: [])
        for (items, name) in [(inputs.sampleItems, "features"), (inputs.augmentedItems, "augmented features")]
        where !items.isEmpty {
            let extracted = try extract(items, name, inputs: inputs, specHash: specHash, shard: shard)
            summary.hits += extracted.hits
            summary.misses += extracted.misses
            summary.files.append(extracted.file)
            summary.rows += extracted.rows.map { [$0] } ?? []
        }
        return summary
    }

    /// The datasets, backbone and input pipeline of the spec, and the items whose features a
    /// run extracts; `timing` receives each step's time. `measuringQuality` false skips the
    /// image-quality columns (which decode every image) where no quality filter needs them:
    /// an extraction shard then reads only its own images' pixels.
    private func inputs(measuringQuality: Bool = true, timing: (RunRecord.Stage) -> Void) throws -> RunInputs {
        func timed<T>(_ name: String, _ body: () throws -> T) throws -> T {
            let clock = Date()
            defer { timing(RunRecord.Stage(name: name, seconds: Date().timeIntervalSince(clock))) }
            return try body()
        }
        // Datasets, with the image-quality columns; the quality filter excludes images from every point.
        let datasets = try timed("dataset") {
            try spec.datasets.map { point -> (DatasetPoint, Dataset) in
                let loaded = try measuringQuality ? point.configuration.load().addingImageQuality()
                                                  : point.configuration.load()
                return (point, try spec.qualityFilter.map { try loaded.filtered(by: $0, reason: "quality filter not met") }
                            ?? loaded)
            }
        }
        log(spec.description.isEmpty ? spec.name : "\(spec.name): \(spec.description)")
        for (point, dataset) in datasets {
            if datasets.count > 1 {
                log("dataset point \(point.index) [" + point.parameters.map { "\($0.name)=\($0.value)" }
                    .joined(separator: " ") + "]:")
            }
            log(dataset.report.description)
            try checkUsable(dataset)
        }
        let (samples, loaded) = unionOfSamples(datasets)

        // Backbone.
        let (backbone, weightsFile) = try timed("backbone") { () throws -> (Backbone, URL) in
            let descriptor = try BackboneRegistry.descriptor(named: spec.backbone.name, assets: options.assetsDirectory)
            let weights = spec.backbone.weights.map { URL(fileURLWithPath: $0) }
            let backbone = try descriptor.load(weights: weights)
            for tap in spec.backbone.taps { _ = try backbone.tap(named: tap) }
            return (backbone, weights ?? descriptor.weightsFile!)
        }
        let weightsSHA256 = try timed("weights checksum") { try SHA256.hexDigest(ofFileAt: weightsFile) }
        let pipeline = InputPipeline(spec.backbone, backbone: backbone)

        // Features: every sample of the dataset points, then (in their own cache file, so the
        // samples' file is shared with specs without augmentation) the augmented copies of
        // every training image of any point, each image once.
        let augmentations = Augmentation.allCases.filter { Set(spec.features.augment.values.joined()).contains($0) }
        // Every dataset point's training rows, each once, in point order.
        var seen = Set<Int>()
        let trainRows = loaded.flatMap(\.trainRows).filter { seen.insert($0).inserted }
        return RunInputs(samples: samples, loaded: loaded, backbone: backbone, weightsFile: weightsFile,
                         weightsSHA256: weightsSHA256, pipeline: pipeline, mapSize: try pipeline.mapSize(samples[0]),
                         augmentations: augmentations, trainRows: trainRows)
    }

    /// Features of `items` (of `shard` only, when given) through the embedding cache, logged
    /// as `name`; with ``RunOptions/featureShards``, merged from the shard files first.
    private func extract(_ items: [ExtractionItem], _ name: String, inputs: RunInputs, specHash: String,
                         shard: ImageShard?) throws -> ExtractedFeatures {
        let extracted = try extractFeatures(
            of: items, backbone: inputs.backbone, backboneSpec: spec.backbone, weightsSHA256: inputs.weightsSHA256,
            pipeline: inputs.pipeline, mapSize: inputs.mapSize, cache: EmbeddingCache(directory: options.cacheDirectory),
            specHash: specHash, toolVersion: options.toolVersion, shard: shard,
            mergingShards: shard == nil ? options.featureShards : nil, showsProgress: options.showsProgress, log: log)
        extracted.warnings.forEach { log("warning: \($0)") }
        log("\(name)\(shard.map { " (shard \($0))" } ?? ""): \(extracted.hits) images from the cache, "
            + "\(extracted.misses) computed (\(extracted.file.path))")
        return extracted
    }

    /// The model of one grid point: its fitted scorer, the backbone and preprocessing, the
    /// threshold, the training images' scores and the range of every score the point gave
    /// (`splits`: the features of the point's dataset point).
    private func savedModel(_ result: PointResult, splits: FeatureSplits, weightsFile: URL, weightsSHA256: String,
                            backboneName: String) throws -> SavedModel {
        let threshold: SavedModel.Threshold
        switch spec.threshold {
        case .f1Max: threshold = SavedModel.Threshold(rule: "f1_max", value: result.threshold)
        case .trainPercentile(let percentile):
            threshold = SavedModel.Threshold(rule: "train_percentile", percentile: percentile, value: result.threshold)
        case .fixed: threshold = SavedModel.Threshold(rule: "fixed", value: result.threshold)
        }
        let training = try result.trainScores ?? trainingScores(of: result.scorer, features: splits)
        let scores = training + result.testScores
        return SavedModel(
            trawlVersion: options.toolVersion, experiment: spec.name, gridPoint: result.point.index,
            gridParameters: Dictionary(uniqueKeysWithValues: result.point.parameters.map { ($0.name, $0.value) }),
            backbone: SavedModel.Backbone(name: backboneName, weightsSHA256: weightsSHA256, weightsPath: weightsFile.path,
                                          specJSON: spec.backbone.specJSON),
            aggregator: aggregator(result.point.features), scorer: result.scorer, threshold: threshold,
            trainingScores: training, scoreRange: scores.min()!...scores.max()!)
    }

    /// The dataset has training images and both classes in its test split; pixel metrics
    /// have masks to compare with.
    private func checkUsable(_ dataset: Dataset) throws {
        let report = dataset.report
        guard report.count(.train) > 0 else { throw RunError("\(specFile.path): the dataset has no training images") }
        guard report.count(.test, .normal) > 0, report.count(.test, .anomalous) > 0 else {
            throw RunError("\(specFile.path): the test split needs normal and anomalous images "
                           + "(normal \(report.count(.test, .normal)), anomalous \(report.count(.test, .anomalous)))")
        }
        if let pixelMetric = spec.metrics.first(where: { $0 == .pixelAUROC || $0 == .aupro }),
           !dataset.test.contains(where: { $0.maskURL != nil }) {
            throw RunError("\(specFile.path): \(pixelMetric.rawValue) needs ground-truth masks; the dataset has none")
        }
    }
}
