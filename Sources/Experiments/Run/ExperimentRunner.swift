import Backbones
import Checksums
import Datasets
import EmbeddingCache
import Foundation
import Reports
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

        // Dataset.
        let dataset = try stage("dataset") { try spec.dataset.load() }
        log(spec.description.isEmpty ? spec.name : "\(spec.name): \(spec.description)")
        log(dataset.report.description)
        try checkUsable(dataset)
        let samples = dataset.samples
        let trainRows = samples.indices.filter { samples[$0].split == .train }
        let testRows = samples.indices.filter { samples[$0].split == .test }

        // Backbone.
        let (backbone, weightsFile) = try stage("backbone") { () throws -> (Backbone, URL) in
            let descriptor = try BackboneRegistry.descriptor(named: spec.backbone.name, assets: options.assetsDirectory)
            let weights = spec.backbone.weights.map { URL(fileURLWithPath: $0) }
            let backbone = try descriptor.load(weights: weights)
            for tap in spec.backbone.taps { _ = try backbone.tap(named: tap) }
            return (backbone, weights ?? descriptor.weightsFile!)
        }
        let weightsSHA256 = try stage("weights checksum") { try SHA256.hexDigest(ofFileAt: weightsFile) }
        let pipeline = InputPipeline(spec.backbone, backbone: backbone)

        // Features: every sample, then (in their own cache file, so the samples' file is
        // shared with specs without augmentation) the training images' augmented copies.
        func extract(_ items: [ExtractionItem], _ name: String) throws -> ExtractedFeatures {
            let extracted = try stage(name) {
                try extractFeatures(of: items, backbone: backbone, backboneSpec: spec.backbone,
                                    weightsSHA256: weightsSHA256, pipeline: pipeline,
                                    cache: EmbeddingCache(directory: options.cacheDirectory), specHash: specHash,
                                    toolVersion: options.toolVersion, showsProgress: options.showsProgress, log: log)
            }
            extracted.warnings.forEach { log("warning: \($0)") }
            log("\(name): \(extracted.hits) images from the cache, \(extracted.misses) computed (\(extracted.file.path))")
            return extracted
        }
        let extracted = try extract(samples.map { ExtractionItem(sample: $0) }, "features")
        let augmentations = Augmentation.allCases.filter { Set(spec.features.augment.values.joined()).contains($0) }
        let augmentedItems = augmentations.flatMap { augmentation in
            trainRows.map { ExtractionItem(sample: samples[$0], augmentation: augmentation) }
        }
        let augmented = try augmentedItems.isEmpty ? nil : extract(augmentedItems, "augmented features")
        let augmentedRows = Dictionary(uniqueKeysWithValues: augmentations.enumerated().map { position, augmentation in
            (augmentation, (0..<trainRows.count).map { samples.count + position * trainRows.count + $0 })
        })

        let needsMasks = spec.metrics.contains(.pixelAUROC) || spec.metrics.contains(.aupro)
        let masks = try needsMasks ? stage("masks") { try testRows.map { try pipeline.mask(samples[$0]) } } : nil
        let splits = FeatureSplits(
            taps: spec.backbone.taps.map { tap in
                augmented.map { concatenatingRows(extracted.taps[tap]!, $0.taps[tap]!) } ?? extracted.taps[tap]!
            },
            trainRows: trainRows, testRows: testRows, augmentedTrainRows: augmentedRows,
            featureKeySHA256: extracted.key.sha256, trainIDs: trainRows.map { samples[$0].id },
            testLabels: testRows.map { samples[$0].label.isAnomalous }, testMasks: masks,
            inputSize: spec.backbone.inputSize)

        // The species classifier, once: it does not depend on the grid point.
        let classifier = try spec.classifier.map { classifierSpec in
            try stage("classifier") { try classify(classifierSpec, samples: samples, features: splits) }
        }
        if let classifier {
            log(String(format: "classifier: %d categories, MAP@20 %.4f", classifier.categories.count, classifier.mapAt20))
        }

        // Scorers, one grid point after another.
        let grid = spec.grid
        let coresets = CoresetCache(directory: options.cacheDirectory.appendingPathComponent("coresets"))
        var results = [PointResult]()
        for point in grid {
            let result = try stage("grid point \(point.index)") {
                try evaluate(point, spec: spec, features: splits, coresets: coresets, classifierMAP: classifier?.mapAt20,
                             showsProgress: options.showsProgress)
            }
            if let outcome = result.coresetCache {
                outcome.warnings.forEach { log("warning: \($0)") }
                log("coreset: " + (outcome.hit ? "reused" : "selected and saved") + " (\(outcome.file.path))")
            }
            let metrics = spec.metrics.map { "\($0.rawValue) \(String(format: "%.4f", result.metrics[$0]!))" }
            let swept = grid.count > 1 ? " [" + point.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "]" : ""
            log("point \(point.index)\(swept): " + metrics.joined(separator: ", ")
                + String(format: " (fit %.1f s, score %.1f s)", result.fitSeconds, result.scoreSeconds))
            results.append(result)
        }

        let embeddingMap = try stage("embedding map") {
            try EmbeddingMap(rows: trainRows + testRows, taps: splits.taps, seed: spec.seed)
        }

        // Results.
        let headlineMetric = spec.metrics[0]
        let best = results.max { $0.metrics[headlineMetric]! < $1.metrics[headlineMetric]! }!
        let report = ResultReport(spec: spec, samples: samples, trainRows: trainRows, testRows: testRows, results: results,
                                  classifier: classifier)
        var record = RunRecord(
            name: spec.name, description: spec.description, thresholdRule: spec.threshold.summary,
            toolVersion: options.toolVersion,
            startedAt: ISO8601DateFormatter().string(from: start),
            git: Provenance.git(in: specFile.deletingLastPathComponent()).map { RunRecord.Git(sha: $0.sha, dirty: $0.dirty) },
            spec: RunRecord.Spec(path: specFile.path, sha256: specHash),
            seed: spec.seed,
            backbone: RunRecord.Backbone(name: backbone.name, weights: weightsFile.path, weightsSha256: weightsSHA256,
                                         taps: spec.backbone.taps, resize: spec.backbone.resize,
                                         inputSize: spec.backbone.inputSize),
            swiftVersion: Provenance.swiftVersion, os: Provenance.operatingSystem, libraries: Provenance.libraries,
            dataset: RunRecord.Dataset(dataset.report),
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
            if classifier != nil { try staging.write(report.submissionTable(best).csv, to: "submission.csv") }
            try staging.write(embeddingMap.table(samples).csv, to: "embedding.csv")
            try writeGallery(result: best, report: report, pipeline: pipeline, splits: splits, to: staging)
            // run.json after the tables and images: its "results" stage covers them.
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
