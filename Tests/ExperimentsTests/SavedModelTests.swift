import CHDF5
import Datasets
@testable import Experiments
import Foundation
import HDF5
import Images
import Metrics
import SavedModels
import Scorers
import Tensors
import TestSupport
import XCTest

/// Saved models end to end on the runner tests' tiny `folders` dataset with the real
/// EfficientNet-Lite0 weights (skipped with a reason when absent): a run's model.h5 scores
/// the run's test images bit for bit, add-normal lowers the added images' scores, quality
/// predicates exclude images, bad model files give one clear error.
final class SavedModelTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = try tinyFoldersRoot("trawl-models")
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    private var options: RunOptions {
        var options = RunOptions(root: root, toolVersion: "test", showsProgress: false)
        options.assetsDirectory = assetsDirectory
        return options
    }

    private var modelFile: URL { root.appendingPathComponent("Results/tiny/model.h5") }

    /// Runs `Experiments/tiny.json` with `scorer` (and `dataset` fields added) and returns the
    /// run's test scores by id at the grid point of its model.h5.
    @discardableResult
    private func run(_ scorer: [String: Any], dataset extra: [String: Any] = [:],
                     threshold: [String: Any] = ["rule": "f1_max"], outputs: [String: Any] = [:],
                     tiling: [String: Any]? = nil) throws -> [String: String] {
        var dataset: [String: Any] = ["kind": "folders", "root": "../data", "train_fraction": 0.5]
        dataset.merge(extra) { $1 }
        let spec: [String: Any] = [
            "name": "tiny", "dataset": dataset, "scorer": scorer, "threshold": threshold, "seed": 3,
            "backbone": tiling.map { ["name": "efficientnet-lite0", "taps": ["stride8", "stride16"], "tiling": $0] as [String: Any] }
                ?? ["name": "efficientnet-lite0", "taps": ["stride8", "stride16"], "input_size": 64],
            "outputs": outputs,
        ]
        let folder = root.appendingPathComponent("Experiments")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent("tiny.json")
        try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]).write(to: url)
        var runner = ExperimentRunner(spec: try ExperimentSpec(contentsOf: url), specFile: url, options: options)
        runner.log = { _ in }
        _ = try runner.run()
        let rows = try csvRows(root.appendingPathComponent("Results/tiny/scores.csv"))
        let (id, split, score) = (rows[0].firstIndex(of: "id")!, rows[0].firstIndex(of: "split")!, rows[0].firstIndex(of: "score")!)
        // The saved model's grid point.
        let point = String(try SavedModel(contentsOf: modelFile).gridPoint)
        return Dictionary(uniqueKeysWithValues: rows.dropFirst().filter { $0[split] == "test" && $0[0] == point }
            .map { ($0[id], $0[score]) })
    }

    /// `trawl score` of `inputs` with the run's model into `Scored/`; scores by id.
    private func score(_ inputs: [URL], filters: [Datasets.Predicate] = [], top: Int = 2) throws -> (summary: ScoringSummary, scores: [String: String]) {
        var scoring = ModelScoring(modelFile: modelFile, options: options)
        scoring.log = { _ in }
        let summary = try scoring.score(try UnlabeledImages.files(inputs), filters: filters,
                                        to: root.appendingPathComponent("Scored"), top: top)
        let rows = try csvRows(root.appendingPathComponent("Scored/scores.csv"))
        let (id, score) = (rows[0].firstIndex(of: "id")!, rows[0].firstIndex(of: "score")!)
        return (summary, Dictionary(uniqueKeysWithValues: rows.dropFirst().map { ($0[id], $0[score]) }))
    }

    func testEverySavedScorerReproducesTheRunsScoresBitForBit() throws {
        let scorers: [[String: Any]] = [
            ["kind": "patchcore", "coreset_ratio": 0.25],
            ["kind": "knn", "k": 2],
            ["kind": "knn", "k": 2, "aggregate": "kth", "scale": true],
            ["kind": "mahalanobis"],
            ["kind": "gmm", "components": 1],
            ["kind": "ocsvm", "nu": 0.5, "gamma": "scale"],
        ]
        for scorer in scorers {
            let runScores = try run(scorer)
            XCTAssertEqual(runScores.count, 8)
            // Every image of the dataset, training images included, in one call.
            let scored = try score([root.appendingPathComponent("data")])
            XCTAssertEqual(scored.summary.scored, 12)
            for (id, value) in runScores { XCTAssertEqual(scored.scores[id], value, "\(scorer) \(id)") }
        }
    }

    /// A faiss index is saved as its parameters and built again on load: `trawl score`
    /// reproduces the run's scores; metrics.csv has the index's recall against exact search.
    func testASavedModelWithAnIndexReproducesTheRunsScores() throws {
        guard ApproximateSearch.isAvailable else { return print("skipping: faiss is not installed (make setup)") }
        for index: [String: Any] in [["kind": "hnsw", "m": 8, "ef_search": 16], ["kind": "ivf_flat", "lists": 4, "probe": 2],
                                     ["kind": "ivf_pq", "lists": 2, "code_bytes": 38, "probe": 1, "rerank": 4]] {
            let runScores = try run(["kind": "patchcore", "coreset_ratio": 1, "index": index])
            let model = try SavedModel(contentsOf: modelFile)
            guard case .patchcore(let patchcore) = model.scorer else { return XCTFail("\(model.scorer)") }
            XCTAssertEqual(patchcore.approximateSearch?.kind.name, index["kind"] as? String)
            XCTAssertEqual(patchcore.approximateSearch?.seed, 3)
            let scored = try score([root.appendingPathComponent("data")])
            for (id, value) in runScores { XCTAssertEqual(scored.scores[id], value, "\(index) \(id)") }
            let metrics = try csvRows(root.appendingPathComponent("Results/tiny/metrics.csv"))
            let recall = try XCTUnwrap(metrics[0].firstIndex(of: "index_recall_at_1"))
            XCTAssertEqual(metrics[0][metrics[0].firstIndex(of: "index")!], "index")
            let value = try XCTUnwrap(Double(metrics[1][recall]))
            XCTAssertTrue(value > 0.5 && value <= 1, "\(index): recall \(value)")
            XCTAssertNotNil(metrics[0].firstIndex(of: "index_search_seconds"))
        }
    }

    func testADatasetSweepSavesTheBestPointFittedOnItsDatasetPoint() throws {
        let runScores = try run(["kind": "knn", "k": 2], dataset: ["seed": [3, 4]])
        let model = try SavedModel(contentsOf: modelFile)
        XCTAssertNotNil(model.gridParameters["seed"])
        XCTAssertEqual(model.trainingScores.count, 4)
        let scored = try score([root.appendingPathComponent("data")])
        for (id, value) in runScores { XCTAssertEqual(scored.scores[id], value, id) }
    }

    func testATiledModelReproducesTheRunsScoresBitForBit() throws {
        let runScores = try run(["kind": "patchcore", "coreset_ratio": 0.5], tiling: ["tile": 64, "stride": 48, "scale": 2])
        XCTAssertNotNil(try SavedModel(contentsOf: modelFile).backbone.specJSON.range(of: #""tiling":{"#))
        let scored = try score([root.appendingPathComponent("data")])
        for (id, value) in runScores { XCTAssertEqual(scored.scores[id], value, id) }
    }

    func testScoresCSVGalleryAndHeatmaps() throws {
        try run(["kind": "patchcore", "coreset_ratio": 0.25])
        let (summary, _) = try score([root.appendingPathComponent("data/FAIL"), root.appendingPathComponent("data/PASS/00.png")],
                                     top: 2)
        let rows = try csvRows(root.appendingPathComponent("Scored/scores.csv"))
        XCTAssertEqual(Array(rows[0].prefix(8)), ["rank", "id", "score", "normalised_score", "predicted",
                                                  "sharpness", "brightness", "contrast"])
        XCTAssertEqual(rows.dropFirst().map { $0[0] }, ["1", "2", "3", "4", "5"])
        let scores = rows.dropFirst().map { Double($0[2])! }
        XCTAssertEqual(scores, scores.sorted(by: >))
        XCTAssertEqual(summary.ranking.map(\.id), rows.dropFirst().map { $0[1] })
        for row in rows.dropFirst() { XCTAssertTrue((0...1).contains(Double(row[3])!), "\(row)") }
        let scored = root.appendingPathComponent("Scored")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scored.appendingPathComponent("heatmaps").path).sorted(),
                       summary.ranking.prefix(2).enumerated().map { "\($0.offset + 1)_\(fileSafe($0.element.id)).png" })
        let html = try String(contentsOf: scored.appendingPathComponent("gallery.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("Most anomalous (2)") && html.contains("Least anomalous (2)"), html)
        // Every image the page shows exists, by relative path.
        let sources = html.components(separatedBy: "src=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        XCTAssertEqual(sources.count, 8)
        for source in sources {
            XCTAssertTrue(FileManager.default.fileExists(atPath: scored.appendingPathComponent(source).path), source)
        }
    }

    func testAddNormalLowersTheScoresOfTheAddedImages() throws {
        try run(["kind": "patchcore", "coreset_ratio": 0.25])
        let fail = root.appendingPathComponent("data/FAIL")
        let before = try score([fail]).scores
        let bank = try XCTUnwrap(try SavedModel(contentsOf: modelFile).scorer.bankSize)
        var adding = AddNormal(modelFile: modelFile, options: options)
        adding.log = { _ in }
        let summary = try adding.add(try UnlabeledImages.files([fail]))
        XCTAssertEqual(summary.bankBefore, bank)
        // 4 images of 8×8 patches, a quarter kept by the coreset.
        XCTAssertEqual(summary.bankAfter, bank + 4 * 64 / 4)
        let reloaded = try SavedModel(contentsOf: modelFile)
        XCTAssertEqual(reloaded.scorer.bankSize, summary.bankAfter)
        XCTAssertEqual(reloaded.trainingScores.count, 4 + 4)
        let after = try score([fail]).scores
        XCTAssertEqual(Set(after.keys), Set(before.keys))
        for (id, value) in before { XCTAssertLessThan(Double(after[id]!)!, Double(value)!, id) }
    }

    /// `map_normalization` and `map_max_filter` reach model.h5, survive add-normal (which
    /// changes only the bank: the maps depend on nothing else fitted), and `trawl score` still
    /// reproduces the run.
    func testMapOptionsAreSavedAndSurviveAddNormal() throws {
        let runScores = try run(["kind": "patchcore", "coreset_ratio": 0.25, "map_normalization": "image_median",
                                 "map_max_filter": 3])
        func mapOptions() throws -> [String] {
            guard case .patchcore(let scorer) = try SavedModel(contentsOf: modelFile).scorer else { return [] }
            return [scorer.mapNormalization.rawValue, String(scorer.mapMaxFilter)]
        }
        XCTAssertEqual(try mapOptions(), ["image_median", "3"])
        let scored = try score([root.appendingPathComponent("data")])
        for (id, value) in runScores { XCTAssertEqual(scored.scores[id], value, id) }
        var adding = AddNormal(modelFile: modelFile, options: options)
        adding.log = { _ in }
        _ = try adding.add(try UnlabeledImages.files([root.appendingPathComponent("data/FAIL")]))
        XCTAssertEqual(try mapOptions(), ["image_median", "3"])
    }

    func testQualityPredicatesExcludeImagesAndAreCounted() throws {
        // A black frame among the PASS images: no contrast, no sharpness.
        try Image(pixels: Tensor(shape: [1, 64, 64], data: [Float](repeating: 0, count: 64 * 64)))
            .writePNG(to: root.appendingPathComponent("data/PASS/99.png"))
        let filter: [String: Any] = ["column": "contrast", "op": ">", "value": 5]
        try run(["kind": "patchcore", "coreset_ratio": 0.25], dataset: ["quality": filter])
        let record = try String(contentsOf: root.appendingPathComponent("Results/tiny/run.json"), encoding: .utf8)
        XCTAssertTrue(record.contains("quality filter not met (contrast > 5)"), record)
        let runRows = try csvRows(root.appendingPathComponent("Results/tiny/scores.csv"))
        XCTAssertFalse(runRows.contains { $0.contains("PASS/99.png") })
        XCTAssertTrue(runRows[0].contains("sharpness") && runRows[0].contains("brightness") && runRows[0].contains("contrast"))

        let scored = try score([root.appendingPathComponent("data/PASS")],
                               filters: [try Datasets.Predicate(parsing: "sharpness > 1"), try Datasets.Predicate(parsing: "brightness>=50")])
        XCTAssertEqual(scored.summary.scored, 8)
        XCTAssertNil(scored.scores["99.png"])
        XCTAssertEqual(scored.summary.exclusions.map(\.description), ["not selected by --where (sharpness > 1): 1 excluded"])
    }

    func testBadModelFilesGiveOneClearError() throws {
        try run(["kind": "knn", "k": 2])
        func failure(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        func load() throws { _ = try LoadedModel(modelFile, options: options) }
        let original = try Data(contentsOf: modelFile)

        // Truncated.
        try original.prefix(original.count / 2).write(to: modelFile)
        let truncated = failure(load)
        XCTAssertTrue(truncated.hasPrefix(modelFile.path + ": "), truncated)
        XCTAssertTrue(truncated.contains("not a") , truncated)

        // Another format version.
        try original.write(to: modelFile)
        try withHDF5 {
            let file = try openFile(modelFile.path, writable: true)
            defer { H5Fclose(file) }
            try check(H5Adelete(file, "format_version"), "H5Adelete")
            try writeInt64Attribute(file, "format_version", [99])
        }
        XCTAssertEqual(failure(load), "\(modelFile.path): not a valid Trawl model: format version 99 (written by Trawl test); "
                       + "this Trawl reads format versions 3–4 — re-run the experiment to save it again")

        // A missing dataset.
        try original.write(to: modelFile)
        try withHDF5 {
            let file = try openFile(modelFile.path, writable: true)
            defer { H5Fclose(file) }
            try check(H5Ldelete(file, "training_scores", trawl_h5p_default()), "H5Ldelete")
        }
        XCTAssertEqual(failure(load), "\(modelFile.path): not a valid Trawl model: dataset training_scores is missing")

        // Other backbone weights.
        try original.write(to: modelFile)
        var model = try SavedModel(contentsOf: modelFile)
        let actual = model.backbone.weightsSHA256
        model.backbone.weightsSHA256 = String(repeating: "0", count: 64)
        try model.write(to: modelFile)
        let mismatch = failure(load)
        XCTAssertTrue(mismatch.contains("backbone weights differ") && mismatch.contains(String(repeating: "0", count: 64))
                      && mismatch.contains(actual), mismatch)

        // No file, and nothing half-written beside it.
        try FileManager.default.removeItem(at: modelFile)
        XCTAssertEqual(failure(load), "\(modelFile.path): no such model file")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: modelFile.deletingLastPathComponent().path)
                        .filter { $0.contains("partial") }, [])
    }

    func testScoringTheTestImagesRanksThemAsTheRunDid() throws {
        // The run's test images copied into one folder (FAIL/…, PASS/…) and scored as an
        // unlabeled folder: the ranking's AUROC against the folders is the run's AUROC.
        let runScores = try run(["kind": "patchcore", "coreset_ratio": 0.25])
        let unlabeled = root.appendingPathComponent("unlabeled")
        for id in runScores.keys {
            let copy = unlabeled.appendingPathComponent(id)
            try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: root.appendingPathComponent("data/\(id)"), to: copy)
        }
        let scored = try score([unlabeled], top: 0)
        XCTAssertEqual(scored.summary.ranking.count, 8)
        let labels = scored.summary.ranking.map { $0.id.hasPrefix("FAIL") }
        XCTAssertEqual(labels.filter { $0 }.count, 4)
        let ranking = try Metrics.auroc(scores: scored.summary.ranking.map(\.score), labels: labels)
        let metrics = try csvRows(root.appendingPathComponent("Results/tiny/metrics.csv"))
        XCTAssertEqual(ranking, Double(metrics[1][metrics[0].firstIndex(of: "auroc")!])!)
    }

    func testNormalisedScoresPutTheThresholdAtOneHalfAndSpanTheRunsScores() throws {
        let runScores = try run(["kind": "patchcore", "coreset_ratio": 0.25])
        let model = try SavedModel(contentsOf: modelFile)
        // The range covers the run's training scores (≈ 0 for PatchCore) and its test scores.
        let runRows = try csvRows(root.appendingPathComponent("Results/tiny/scores.csv"))
        let scoreColumn = runRows[0].firstIndex(of: "score")!
        let all = runRows.dropFirst().map { Double($0[scoreColumn])! }
        XCTAssertEqual(model.scoreRange.lowerBound, min(all.min()!, model.trainingScores.min()!))
        XCTAssertEqual(model.scoreRange.upperBound, all.max()!)
        XCTAssertGreaterThan(model.scoreRange.upperBound, model.trainingScores.max()!)

        var fixed = model
        fixed.threshold.value = 4
        fixed.scoreRange = 2...10
        XCTAssertEqual(fixed.normalisedScore(4), 0.5)
        XCTAssertEqual(fixed.normalisedScore(6), 0.75)
        XCTAssertEqual(fixed.normalisedScore(1), 0.125)
        XCTAssertEqual(fixed.normalisedScore(9), 1)
        XCTAssertEqual(fixed.normalisedScore(-30), 0)

        // scores.csv: the formula on the model's own range; not saturated at 0 or 1.
        let scored = try score(runScores.keys.sorted().map { root.appendingPathComponent("data/\($0)") }, top: 0)
        let rows = try csvRows(root.appendingPathComponent("Scored/scores.csv"))
        let span = model.scoreRange.upperBound - model.scoreRange.lowerBound
        for row in rows.dropFirst() {
            let expected = min(1, max(0, (Double(row[2])! - model.threshold.value) / span + 0.5))
            XCTAssertEqual(Double(row[3])!, expected, accuracy: 1e-12, "\(row)")
            XCTAssertEqual(row[4] == "anomalous", Double(row[3])! >= 0.5, "\(row)")
        }
        XCTAssertGreaterThan(Set(rows.dropFirst().map { $0[3] }).count, scored.summary.scored / 2)
    }

    func testAllGridPointsSaveAModelWhenAsked() throws {
        try run(["kind": "knn", "k": [1, 2]], outputs: ["model": "all"])
        let models = root.appendingPathComponent("Results/tiny/models")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: models.path).sorted(), ["point-0.h5", "point-1.h5"])
        let best = try SavedModel(contentsOf: modelFile)
        XCTAssertEqual(try SavedModel(contentsOf: models.appendingPathComponent("point-\(best.gridPoint).h5")).gridParameters,
                       best.gridParameters)
    }
}

/// Rows of a CSV without quoted cells, header first.
private func csvRows(_ url: URL) throws -> [[String]] {
    try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
}

/// A PatchCore model with map options written and read back scores bit for bit as the
/// scorer that was saved (maps included); a model written before `map_normalization` and
/// `map_max_filter` existed (format version 3, no such attributes) loads with raw maps.
final class SavedPatchCoreMapTests: XCTestCase {
    func testImageMedianMapsRoundTripAndOldModelsKeepRawMaps() throws {
        var scorer = PatchCoreScorer(coreset: nil, blurSigma: 2, mapNormalization: .imageMedian, mapMaxFilter: 3)
        try scorer.fit(bank: Tensor(shape: [40, 6], data: (0..<240).map { Float(($0 * 37) % 23) / 7 }))
        let test = PatchFeatures(features: Tensor(shape: [2 * 5 * 4, 6], data: (0..<240).map { Float(($0 * 53) % 29) / 5 }),
                                 images: 2, height: 5, width: 4)
        let model = SavedModel(trawlVersion: "test", experiment: "maps", gridPoint: 0, gridParameters: [:],
                               backbone: .init(name: "efficientnet-lite0", weightsSHA256: String(repeating: "0", count: 64),
                                               weightsPath: "none", specJSON: "{}"),
                               aggregator: scorer.aggregator, scorer: .patchcore(scorer),
                               threshold: .init(rule: "fixed", value: 1), trainingScores: [0.5], scoreRange: 0...2)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-maps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("model.h5")
        try model.write(to: file)

        func reloaded() throws -> PatchCoreScorer {
            guard case .patchcore(let scorer) = try SavedModel(contentsOf: file).scorer else { throw XCTSkip("not PatchCore") }
            return scorer
        }
        let expected = try scorer.score(patches: test, imageHeight: 10, imageWidth: 8)
        XCTAssertEqual(try reloaded().mapNormalization, .imageMedian)
        XCTAssertEqual(try reloaded().mapMaxFilter, 3)
        XCTAssertEqual(try reloaded().score(patches: test, imageHeight: 10, imageWidth: 8), expected)

        try withHDF5 {
            let handle = try openFile(file.path, writable: true)
            defer { H5Fclose(handle) }
            let group = try openGroup(handle, "scorer")
            defer { H5Gclose(group) }
            try check(H5Adelete(group, "map_normalization"), "H5Adelete")
            try check(H5Adelete(group, "map_max_filter"), "H5Adelete")
        }
        XCTAssertThrowsError(try reloaded(), "a version-4 model without its map attributes") { error in
            XCTAssertTrue("\(error)".contains("map_normalization"), "\(error)")
        }
        try withHDF5 {
            let handle = try openFile(file.path, writable: true)
            defer { H5Fclose(handle) }
            try check(H5Adelete(handle, "format_version"), "H5Adelete")
            try writeInt64Attribute(handle, "format_version", [3])
        }
        scorer.mapNormalization = .none
        scorer.mapMaxFilter = 1
        XCTAssertEqual(try reloaded().mapNormalization, MapNormalization.none)
        XCTAssertEqual(try reloaded().score(patches: test, imageHeight: 10, imageWidth: 8),
                       try scorer.score(patches: test, imageHeight: 10, imageWidth: 8))
    }
}
