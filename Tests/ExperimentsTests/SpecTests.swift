import Backbones
import Datasets
@testable import Experiments
import Foundation
import Scorers
import TestSupport
import XCTest

/// A minimal valid spec as a JSON object, edited by each test.
private func baseSpec() -> [String: Any] {
    [
        "name": "t",
        "dataset": ["kind": "folders", "root": "data"],
        "backbone": ["name": "efficientnet-lite0"],
        "scorer": ["kind": "patchcore"],
    ]
}

private let specDirectory = URL(fileURLWithPath: "/specs/here")

private func decode(_ object: [String: Any], environment: [String: String] = [:]) throws -> ExperimentSpec {
    let data = try JSONSerialization.data(withJSONObject: object)
    return try ExperimentSpec(data: data, file: "Experiments/t.json", directory: specDirectory,
                              expectedName: "t", environment: environment)
}

/// The SpecError that decoding `object` throws, failing the test when none is thrown.
private func specError(_ object: [String: Any], environment: [String: String] = [:],
                       file: StaticString = #filePath, line: UInt = #line) -> SpecError? {
    do {
        _ = try decode(object, environment: environment)
        XCTFail("decoding succeeded", file: file, line: line)
    } catch let error as SpecError {
        return error
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
    return nil
}

final class SpecTests: XCTestCase {
    func testMinimalSpecTakesDefaults() throws {
        let spec = try decode(baseSpec())
        XCTAssertEqual(spec.name, "t")
        XCTAssertEqual(spec.datasets[0].configuration, .folders(FoldersConfiguration(root: "/specs/here/data", seed: 0)))
        XCTAssertEqual(spec.backbone, BackboneSpec(name: "efficientnet-lite0", weights: nil,
                                                   taps: ["stride8", "stride16"], resize: 224, inputSize: 224))
        XCTAssertEqual(spec.features, FeatureSpec(pooling: Sweep(3), pretrainDim: Sweep(nil), targetDim: Sweep(nil),
                                                  augment: Sweep([])))
        XCTAssertEqual(spec.scorer, .patchcore(PatchCoreSpec(coresetRatio: Sweep(0.1), k: Sweep(1), metric: Sweep(.euclidean),
                                                             reweighting: Sweep(false), projectionDim: 128, blurSigma: 4)))
        XCTAssertEqual(spec.metrics, [.auroc, .ap, .f1Max])
        XCTAssertEqual(spec.threshold, .f1Max)
        XCTAssertEqual(spec.outputs, OutputSpec(heatmaps: 10, overlays: true, model: .best))
        XCTAssertEqual(spec.tolerances, [.auroc: 0.005, .ap: 0.005, .f1Max: 0.005])
        XCTAssertEqual(spec.grid.count, 1)
    }

    func testQualityFilterAndModelOutputs() throws {
        var object = baseSpec()
        object["dataset"] = ["kind": "mvtec", "root": "d",
                             "quality": ["all": [["column": "sharpness", "op": ">", "value": 50],
                                                 ["column": "brightness", "op": "in", "value": [1, 2]]]]]
        object["outputs"] = ["model": "all"]
        let spec = try decode(object)
        XCTAssertEqual(spec.qualityFilter, .all([.compare("sharpness", .greater, .number(50)),
                                                 .compare(column: "brightness", op: .isIn, operands: [.number(1), .number(2)])]))
        XCTAssertEqual(spec.datasets.map(\.configuration), [.mvtec(MVTecConfiguration(root: "/specs/here/d"))])
        XCTAssertEqual(spec.outputs.model, .all)
        XCTAssertNil(try decode(baseSpec()).qualityFilter)
        // Not swept: one filter for every dataset point.
        object["dataset"] = ["kind": "folders", "root": "d", "seed": [1, 2], "quality": ["column": "contrast", "op": ">", "value": 5]]
        let swept = try decode(object)
        XCTAssertEqual(swept.datasets.count, 2)
        XCTAssertEqual(swept.qualityFilter, .compare("contrast", .greater, .number(5)))

        object["dataset"] = ["kind": "folders", "root": "d", "quality": ["column": "sharpnes", "op": ">", "value": 50]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: dataset.quality.column: \"sharpnes\" is not allowed; did you mean \"sharpness\"? "
                       + "allowed: \"sharpness\", \"brightness\", \"contrast\"")
        object["dataset"] = ["kind": "folders", "root": "d", "quality": ["column": "contrast", "op": ">", "value": "5"]]
        XCTAssertEqual(specError(object)?.description.hasPrefix("Experiments/t.json: dataset.quality.value: expected a number"), true)
        object["dataset"] = ["kind": "folders", "root": "d"]
        object["outputs"] = ["model": "every"]
        XCTAssertEqual(specError(object)?.description.hasPrefix("Experiments/t.json: outputs.model: \"every\" is not allowed"), true)
    }

    func testBackboneSpecRoundTripsThroughItsJSON() throws {
        let backbone = BackboneSpec(name: "resnet18", weights: "/w/r.pth", taps: ["stride8"], resize: 256, inputSize: 224)
        XCTAssertEqual(backbone.specJSON,
                       #"{"input_size":224,"name":"resnet18","resize":256,"taps":["stride8"],"weights":"/w/r.pth"}"#)
        XCTAssertEqual(try BackboneSpec(specJSON: backbone.specJSON, file: "m.h5"), backbone)
        var object = baseSpec()
        object["backbone"] = ["name": "efficientnet-lite0", "tiling": ["tile": 256, "stride": 200, "scale": 0.5]]
        let tiled = try decode(object).backbone
        XCTAssertEqual(tiled.tiling, Tiling(tile: 256, stride: 200, scale: 0.5))
        XCTAssertFalse(tiled.specJSON.contains("input_size"), tiled.specJSON)
        XCTAssertEqual(try BackboneSpec(specJSON: tiled.specJSON, file: "m.h5"), tiled)
        XCTAssertThrowsError(try BackboneSpec(specJSON: #"{"name": "resnet18", "input_size": 8}"#, file: "m.h5")) { error in
            XCTAssertTrue("\(error)".hasPrefix("m.h5: backbone.input_size: "), "\(error)")
        }
    }

    func testMisspeltKeySuggestsTheNearestKey() {
        var object = baseSpec()
        object["scorer"] = ["kind": "patchcore", "coreset_ratoi": 0.1]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.coreset_ratoi: unknown key; did you mean \"coreset_ratio\"? "
                       + "allowed keys here: kind, coreset_ratio, k, metric, reweighting, projection_dim, blur_sigma, "
                       + "map_normalization, map_max_filter, coreset_shards, index")
    }

    func testCamelCaseKeySuggestsTheSnakeCaseKey() {
        var object = baseSpec()
        object["backbone"] = ["name": "efficientnet-lite0", "inputSize": 224]
        let error = specError(object)
        XCTAssertEqual(error?.path.description, "backbone.inputSize")
        XCTAssertTrue(error?.reason.hasPrefix("unknown key; did you mean \"input_size\"?") ?? false, "\(String(describing: error))")
    }

    func testUnknownKeyFarFromAnyKeyHasNoSuggestion() {
        var object = baseSpec()
        object["colour"] = "red"
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: colour: unknown key; allowed keys here: name, dataset, backbone, scorer, "
                       + "$schema, description, features, classifier, metrics, threshold, seed, outputs, tolerances, max_grid_points")
    }

    func testWrongTypeNamesPathGivenAndAllowed() {
        var object = baseSpec()
        object["scorer"] = ["kind": "knn", "k": "3"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.k: expected an integer in [1, 1024], got a string \"3\"")
    }

    func testFractionalIntegerIsAWrongType() {
        var object = baseSpec()
        object["scorer"] = ["kind": "knn", "k": 2.5]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.k: expected an integer in [1, 1024], got a number 2.5")
    }

    func testOutOfRangeInsideASweepNamesTheElement() {
        var object = baseSpec()
        object["scorer"] = ["kind": "patchcore", "coreset_ratio": [0.01, 1.5]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.coreset_ratio[1]: 1.5 is out of range; allowed: a number in (0, 1]")
    }

    func testZeroCoresetRatioIsOutOfRange() {
        var object = baseSpec()
        object["scorer"] = ["kind": "patchcore", "coreset_ratio": 0]
        XCTAssertEqual(specError(object)?.path.description, "scorer.coreset_ratio")
    }

    func testUnknownScorerKindSuggestsAKind() {
        var object = baseSpec()
        object["scorer"] = ["kind": "patchcor"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.kind: \"patchcor\" is not allowed; did you mean \"patchcore\"? "
                       + "allowed: \"patchcore\", \"knn\", \"mahalanobis\", \"gmm\", \"ocsvm\"")
    }

    func testKeyOfAnotherScorerKindIsRejected() {
        var object = baseSpec()
        object["scorer"] = ["kind": "knn", "coreset_ratio": 0.1]
        XCTAssertEqual(specError(object)?.path.description, "scorer.coreset_ratio")
    }

    func testMissingRequiredKey() {
        var object = baseSpec()
        object["backbone"] = nil
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: missing required key \"backbone\" (required here: name, dataset, backbone, scorer)")
        object = baseSpec()
        object["threshold"] = ["rule": "train_percentile"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: threshold: missing required key \"percentile\" (required here: rule, percentile)")
    }

    func testDatasetKeysAreCheckedWithPaths() {
        var object = baseSpec()
        object["dataset"] = ["kind": "folders", "root": "data", "normal_folder": ["OK"]]
        XCTAssertEqual(specError(object)?.path.description, "dataset.normal_folder")
        XCTAssertTrue(specError(object)?.reason.contains("did you mean \"normal_folders\"?") ?? false)
        object["dataset"] = ["kind": "elpv", "root": "x", "train_fraction": 1.2]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: dataset.train_fraction: 1.2 is out of range; allowed: a number in [0, 1]")
        object["dataset"] = ["kind": "fashion-mnist", "root": "x", "normal_classes": [0, 12]]
        XCTAssertEqual(specError(object)?.path.description, "dataset.normal_classes[1]")
        object["dataset"] = ["kind": "mvtec"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: dataset: missing required key \"root\" (required here: kind, root)")
    }

    func testManifestRulesDecodeThroughTheDatasetsDecoders() throws {
        var object = baseSpec()
        object["dataset"] = ["kind": "manifest", "path": "m.csv", "train_fraction": 0.5,
                             "label": ["anomalous_when": ["column": "depth_m", "op": ">", "value": 800]]]
        let spec = try decode(object)
        guard case .manifest(let manifest) = spec.datasets[0].configuration else { return XCTFail("\(spec.datasets)") }
        XCTAssertEqual(manifest.path, "/specs/here/m.csv")
        XCTAssertEqual(manifest.trainFraction, 0.5)
        XCTAssertEqual(manifest.label, .anomalousWhen(.compare("depth_m", .greater, .number(800))))

        object["dataset"] = ["kind": "manifest", "path": "m.csv",
                             "label": ["anomalous_when": ["column": "depth_m", "op": "≥", "value": 800]]]
        XCTAssertEqual(specError(object)?.path.description, "dataset.label.anomalous_when.op")
    }

    func testDatasetSeedDefaultsToTheSpecSeed() throws {
        var object = baseSpec()
        object["seed"] = 7
        XCTAssertEqual(try decode(object).datasets[0].configuration, .folders(FoldersConfiguration(root: "/specs/here/data", seed: 7)))
        object["dataset"] = ["kind": "folders", "root": "data", "seed": 3]
        XCTAssertEqual(try decode(object).datasets[0].configuration, .folders(FoldersConfiguration(root: "/specs/here/data", seed: 3)))
    }

    func testNameMustMatchTheFileName() {
        var object = baseSpec()
        object["name"] = "other"
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: name: \"other\" must equal the file name \"t\" (without .json)")
    }

    func testInvalidJSONIsOneError() {
        XCTAssertThrowsError(try ExperimentSpec(data: Data("{\"name\": ".utf8), file: "x.json", directory: specDirectory)) { error in
            XCTAssertTrue("\(error)".hasPrefix("x.json: not valid JSON"), "\(error)")
        }
    }

    func testPixelMetricsNeedPatchCore() {
        var object = baseSpec()
        object["scorer"] = ["kind": "knn"]
        object["metrics"] = ["auroc", "aupro"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: metrics[1]: \"aupro\" needs anomaly maps, which only the patchcore scorer makes")
    }

    func testToleranceForAnUnlistedMetricIsRejected() throws {
        var object = baseSpec()
        object["metrics"] = ["auroc"]
        object["tolerances"] = ["auroc": 0.01]
        XCTAssertEqual(try decode(object).tolerances, [.auroc: 0.01])
        object["tolerances"] = ["ap": 0.01]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: tolerances.ap: a tolerance for \"ap\", which \"metrics\" does not list")
    }

    // MARK: Grid

    func testGridIsTheCartesianProductLastParameterFastest() throws {
        var object = baseSpec()
        object["features"] = ["pooling": [1, 3]]
        object["scorer"] = ["kind": "patchcore", "coreset_ratio": [0.01, 0.1, 0.25], "k": [1, 3]]
        let grid = try decode(object).grid
        XCTAssertEqual(grid.count, 12)
        XCTAssertEqual(grid.map(\.index), Array(0..<12))
        func values(_ point: GridPoint) -> [String] { point.parameters.map(\.value) }
        XCTAssertEqual(grid[0].parameters.map(\.name),
                       ["pooling", "pretrain_dim", "target_dim", "coreset_ratio", "k", "metric", "reweighting"])
        XCTAssertEqual(values(grid[0]), ["1", "all", "all", "0.01", "1", "euclidean", "false"])
        XCTAssertEqual(values(grid[1]), ["1", "all", "all", "0.01", "3", "euclidean", "false"])
        XCTAssertEqual(values(grid[2]), ["1", "all", "all", "0.1", "1", "euclidean", "false"])
        XCTAssertEqual(values(grid[11]), ["3", "all", "all", "0.25", "3", "euclidean", "false"])
        XCTAssertEqual(grid[7].features.pooling.value, 3)
        guard case .patchcore(let scorer) = grid[7].scorer else { return XCTFail() }
        XCTAssertEqual(scorer.coresetRatio.value, 0.01)
        XCTAssertEqual(scorer.k.value, 3)
        XCTAssertEqual(Set(grid).count, 12)
    }

    func testImageLevelScorersHaveNoPatchFeatureParameters() throws {
        var object = baseSpec()
        object["scorer"] = ["kind": "gmm", "components": [2, 4], "covariance": ["full", "diagonal"]]
        XCTAssertEqual(try decode(object).grid.map { $0.parameters.map(\.value) },
                       [["2", "full"], ["2", "diagonal"], ["4", "full"], ["4", "diagonal"]])
        object["features"] = ["pooling": 3]
        XCTAssertEqual(specError(object)?.path.description, "features")
        object["features"] = nil
        object["scorer"] = ["kind": "mahalanobis"]
        XCTAssertEqual(try decode(object).grid.map { $0.parameters.map(\.name) }, [["estimator"]])
        object["scorer"] = ["kind": "mahalanobis", "estimator": "sample", "ridge": [0.01, 0.1]]
        XCTAssertEqual(try decode(object).grid.map { $0.parameters.map(\.value) }, [["sample", "0.01"], ["sample", "0.1"]])
    }

    func testOneClassSVMGammaIsScaleOrAPositiveNumber() throws {
        var object = baseSpec()
        object["scorer"] = ["kind": "ocsvm", "nu": [0.1, 0.5], "gamma": ["scale", 0.02]]
        XCTAssertEqual(try decode(object).grid.map { $0.parameters.map(\.value) },
                       [["0.1", "scale"], ["0.1", "0.02"], ["0.5", "scale"], ["0.5", "0.02"]])
        object["scorer"] = ["kind": "ocsvm"]
        guard case .ocsvm(let defaults) = try decode(object).scorer else { return XCTFail("not an ocsvm scorer") }
        XCTAssertEqual(defaults.nu.value, 0.5)
        XCTAssertEqual(defaults.gamma.value, .scale)
        object["scorer"] = ["kind": "ocsvm", "gamma": "scael"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.gamma: \"scael\" is not allowed; did you mean \"scale\"? allowed: \"scale\"")
        object["scorer"] = ["kind": "ocsvm", "gamma": 0]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.gamma: 0 is out of range; allowed: a number in (0, 1000]")
        object["scorer"] = ["kind": "ocsvm", "gamma": true]
        XCTAssertEqual(specError(object)?.path.description, "scorer.gamma")
        object["scorer"] = ["kind": "ocsvm", "nu": 1.5]
        XCTAssertEqual(specError(object)?.path.description, "scorer.nu")
    }

    func testClassifierSectionAndItsMetrics() throws {
        var object = baseSpec()
        object["scorer"] = ["kind": "knn"]
        object["metrics"] = ["fathomnet_score", "map_at_20"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: metrics[0]: \"fathomnet_score\" needs a \"classifier\" section (the species classifier it scores)")
        object["classifier"] = ["labels_column": "categories", "separator": " "]
        let classifier = try XCTUnwrap(try decode(object).classifier)
        XCTAssertEqual(classifier, ClassifierSpec(labelsColumn: "categories", separator: " ", regularization: 1e-3, topK: 20))
        object["classifier"] = ["labels_column": "categories", "top_k": 21]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: classifier.top_k: 21 is out of range; allowed: an integer in [1, 20]")
        object["classifier"] = ["labels_column": "categories", "regularisation": 0.1]
        XCTAssertEqual(specError(object)?.path.description, "classifier.regularisation")
        XCTAssertTrue(specError(object)?.reason.contains("did you mean \"regularization\"?") ?? false)
        object["classifier"] = ["separator": " "]
        XCTAssertEqual(specError(object)?.path.description, "classifier")
    }

    func testAugmentIsOneSetOrASweepOfSets() throws {
        var object = baseSpec()
        object["features"] = ["augment": ["rot90", "hflip"]]
        XCTAssertEqual(try decode(object).features.augment, Sweep([.hflip, .rot90]))
        XCTAssertEqual(try decode(object).grid.map { $0.parameters.first { $0.name == "augment" }?.value }, ["hflip+rot90"])
        object["features"] = ["augment": [[], ["hflip", "vflip", "rot90"]]]
        XCTAssertEqual(try decode(object).grid.map { $0.parameters.first { $0.name == "augment" }?.value },
                       ["none", "hflip+vflip+rot90"])
        object["features"] = ["augment": []]
        XCTAssertFalse(try decode(object).grid[0].parameters.contains { $0.name == "augment" })
        object["features"] = ["augment": ["hflip", "flip"]]
        XCTAssertEqual(specError(object)?.path.description, "features.augment[1]")
        object["features"] = ["augment": ["hflip", "hflip"]]
        XCTAssertEqual(specError(object)?.description, "Experiments/t.json: features.augment[1]: \"hflip\" is listed twice")
        object["features"] = ["augment": [["hflip", "vflip"], ["vflip", "hflip"]]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: features.augment[1]: the value is listed twice in this sweep")
        object["backbone"] = ["name": "efficientnet-lite0", "tiling": ["tile": 224]]
        object["features"] = ["augment": ["hflip"]]
        XCTAssertEqual(specError(object)?.path.description, "features.augment")
        object["features"] = ["augment": []]
        XCTAssertNoThrow(try decode(object))
    }

    func testSweepRejectsDuplicatesAndEmptyLists() {
        var object = baseSpec()
        object["scorer"] = ["kind": "gmm", "components": [2, 4, 2]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.components[2]: the value is listed twice in this sweep")
        object["scorer"] = ["kind": "gmm", "covariance": []]
        XCTAssertEqual(specError(object)?.path.description, "scorer.covariance")
    }

    // MARK: Dataset sweeps

    func testDatasetFieldListsExpandIntoDatasetPointsTimesScorerPoints() throws {
        var object = baseSpec()
        object["dataset"] = ["kind": "elpv", "root": "x", "cell_type": ["mono", "poly"], "max_train_images": [50, 100, 200]]
        object["scorer"] = ["kind": "knn", "k": [1, 10]]
        let spec = try decode(object)
        XCTAssertEqual(spec.datasets.count, 6)
        XCTAssertEqual(spec.datasets.map { $0.parameters.map(\.value) },
                       [["mono", "50"], ["mono", "100"], ["mono", "200"], ["poly", "50"], ["poly", "100"], ["poly", "200"]])
        guard case .elpv(let fifth) = spec.datasets[4].configuration else { return XCTFail("\(spec.datasets)") }
        XCTAssertEqual(fifth.cellType, .poly)
        XCTAssertEqual(fifth.maxTrainImages, 100)
        let grid = spec.grid
        XCTAssertEqual(grid.count, 12)
        XCTAssertEqual(grid[0].parameters.map(\.name), ["cell_type", "max_train_images", "k", "metric", "aggregate"])
        XCTAssertEqual(grid[3].parameters.map(\.value), ["mono", "100", "10", "euclidean", "mean"])
        XCTAssertEqual(grid.map(\.dataset), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])

        // A list-valued field sweeps as a list of lists; a plain list is one value.
        object["dataset"] = ["kind": "fashion-mnist", "root": "x", "normal_classes": [[0], [1, 2]]]
        XCTAssertEqual(try decode(object).datasets.map { $0.parameters.map(\.value) }, [["0"], ["1+2"]])
        object["dataset"] = ["kind": "fashion-mnist", "root": "x", "normal_classes": [1, 2]]
        let single = try decode(object)
        XCTAssertEqual(single.datasets.count, 1)
        XCTAssertEqual(single.datasets[0].parameters, [])
        XCTAssertEqual(single.grid[0].parameters.map(\.name), ["k", "metric", "aggregate"])
    }

    func testPredicateValuesSweepByTheirPath() throws {
        var object = baseSpec()
        object["dataset"] = ["kind": "manifest", "path": "m.csv",
                             "label": ["anomalous_when": ["column": "depth_m", "op": ">=", "value": [800, 1000]]],
                             "train": ["all": [["column": "site", "op": "in", "value": [["A"], ["A", "B"]]],
                                               ["column": "depth_m", "op": "<", "value": 800]]]]
        let spec = try decode(object)
        XCTAssertEqual(spec.datasets.map { $0.parameters.map { "\($0.name)=\($0.value)" } },
                       [["label.anomalous_when.value=800", "train.all[0].value=A"],
                        ["label.anomalous_when.value=800", "train.all[0].value=A+B"],
                        ["label.anomalous_when.value=1000", "train.all[0].value=A"],
                        ["label.anomalous_when.value=1000", "train.all[0].value=A+B"]])
        guard case .manifest(let last) = spec.datasets[3].configuration else { return XCTFail("\(spec.datasets)") }
        XCTAssertEqual(last.label, .anomalousWhen(.compare("depth_m", .greaterOrEqual, .number(1000))))
    }

    func testDatasetSweepErrorsNameTheElement() {
        var object = baseSpec()
        object["dataset"] = ["kind": "elpv", "root": "x", "cell_type": ["mono", "polly"]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: dataset.cell_type[1]: \"polly\" is not allowed; did you mean \"poly\"? "
                       + "allowed: \"all\", \"mono\", \"poly\"")
        object["dataset"] = ["kind": "elpv", "root": "x", "train_fraction": [0.5, 0.8, 0.5]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: dataset.train_fraction[2]: the value is listed twice in this sweep")
        object["dataset"] = ["kind": "fashion-mnist", "root": "x", "normal_classes": [[0], [10]]]
        XCTAssertEqual(specError(object)?.path.description, "dataset.normal_classes[1][0]")
        object["dataset"] = ["kind": "folders", "root": "x", "max_train_images": []]
        XCTAssertEqual(specError(object)?.path.description, "dataset.max_train_images")
    }

    func testDatasetPointsCountTowardsTheGridLimitBeforeExpanding() {
        var object = baseSpec()
        // 200 × 100 dataset points (× 2 scorer points) are refused before any is built.
        object["dataset"] = ["kind": "folders", "root": "data", "max_train_images": Array(1...200), "seed": Array(0..<100)]
        object["scorer"] = ["kind": "knn", "k": [1, 2]]
        XCTAssertTrue(specError(object)?.reason.hasPrefix("the sweeps make 20000 grid points, more than the limit of 10000") ?? false)
        object["dataset"] = ["kind": "folders", "root": "data", "max_train_images": Array(1...100), "seed": Array(0..<60)]
        XCTAssertTrue(specError(object)?.reason.hasPrefix("the sweeps make 12000 grid points") ?? false)
    }

    func testKNNAggregateAndScale() throws {
        var object = baseSpec()
        object["scorer"] = ["kind": "knn", "k": 100, "metric": "cosine", "aggregate": ["mean", "kth"], "scale": true]
        let spec = try decode(object)
        guard case .knn(let knn) = spec.scorer else { return XCTFail("\(spec.scorer)") }
        XCTAssertEqual(knn.aggregate.values, [.mean, .kth])
        XCTAssertTrue(knn.scale)
        XCTAssertEqual(spec.grid.map { $0.parameters.map(\.value) }, [["100", "cosine", "mean"], ["100", "cosine", "kth"]])
        object["scorer"] = ["kind": "knn", "aggregate": "kht"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.aggregate: \"kht\" is not allowed; did you mean \"kth\"? allowed: \"mean\", \"kth\"")
        object["scorer"] = ["kind": "knn", "scale": "yes"]
        XCTAssertEqual(specError(object)?.path.description, "scorer.scale")
    }

    func testMapNormalizationIsNoneOrImageMedian() throws {
        var object = baseSpec()
        object["scorer"] = ["kind": "patchcore", "map_normalization": "image_median"]
        guard case .patchcore(let patchcore) = try decode(object).scorer else { return XCTFail("not patchcore") }
        XCTAssertEqual(patchcore.mapNormalization, .imageMedian)
        object["scorer"] = ["kind": "patchcore", "map_normalization": "image_mean"]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.map_normalization: \"image_mean\" is not allowed; did you mean \"image_median\"? "
                       + "allowed: \"none\", \"image_median\"")
        object["scorer"] = ["kind": "knn", "map_normalization": "image_median"]
        XCTAssertEqual(specError(object)?.path.description, "scorer.map_normalization")
    }

    func testMapMaxFilterIsAnOddSide() throws {
        var object = baseSpec()
        guard case .patchcore(let plain) = try decode(object).scorer else { return XCTFail("not patchcore") }
        XCTAssertEqual(plain.mapMaxFilter, 1)
        object["scorer"] = ["kind": "patchcore", "map_max_filter": 29]
        guard case .patchcore(let filtered) = try decode(object).scorer else { return XCTFail("not patchcore") }
        XCTAssertEqual(filtered.mapMaxFilter, 29)
        object["scorer"] = ["kind": "patchcore", "map_max_filter": 28]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.map_max_filter: 28 is even; allowed: an odd integer in [1, 255]")
        object["scorer"] = ["kind": "patchcore", "map_max_filter": 0]
        XCTAssertEqual(specError(object)?.path.description, "scorer.map_max_filter")
    }

    func testIndexIsExactByDefaultAndASweepOfFaissKinds() throws {
        var object = baseSpec()
        object["scorer"] = ["kind": "patchcore", "index": [
            ["kind": "exact"], ["kind": "ivf_flat", "lists": 64], ["kind": "hnsw"],
            ["kind": "ivf_pq", "lists": 256, "code_bytes": 19, "probe": 32, "rerank": 50],
        ]]
        guard ApproximateSearch.isAvailable else {
            // Without faiss a faiss kind is the install message, located at the element.
            XCTAssertEqual(specError(object)?.description, "Experiments/t.json: scorer.index[1]: "
                           + ApproximateSearch.notInstalledMessage(kind: "ivf_flat"))
            return
        }
        let spec = try decode(object)
        guard case .patchcore(let patchcore) = spec.scorer else { return XCTFail("\(spec.scorer)") }
        XCTAssertEqual(patchcore.index.values, [nil, .ivfFlat(lists: 64, probe: 8), .hnsw(m: 32, efSearch: 64),
                                                .ivfPQ(lists: 256, codeBytes: 19, probe: 32, rerank: 50)])
        XCTAssertTrue(spec.usesApproximateIndex)
        XCTAssertEqual(spec.grid.map { $0.parameters.last! }.map(\.value),
                       ["exact", "ivf_flat lists=64 probe=8", "hnsw m=32 ef_search=64",
                        "ivf_pq lists=256 code_bytes=19 probe=32 rerank=50"])
        // Without an index the grid has no index column (existing baselines keep their columns).
        object["scorer"] = ["kind": "knn", "index": ["kind": "exact"]]
        let exact = try decode(object)
        XCTAssertFalse(exact.usesApproximateIndex)
        XCTAssertFalse(exact.grid[0].parameters.map(\.name).contains("index"))
    }

    func testIndexParametersAreChecked() {
        var object = baseSpec()
        object["scorer"] = ["kind": "patchcore", "index": ["kind": "hnws"]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.index.kind: \"hnws\" is not allowed; did you mean \"hnsw\"? "
                       + "allowed: \"exact\", \"ivf_flat\", \"hnsw\", \"ivf_pq\"")
        object["scorer"] = ["kind": "knn", "index": ["kind": "exact", "lists": 4]]
        XCTAssertEqual(specError(object)?.path.description, "scorer.index.lists")
        guard ApproximateSearch.isAvailable else { return print("skipping faiss parameter checks: faiss is not installed") }
        object["scorer"] = ["kind": "patchcore", "index": ["kind": "ivf_flat", "lists": 16, "probe": 32]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.index.probe: probe 32 exceeds lists 16; allowed: 1...16")
        object["scorer"] = ["kind": "patchcore", "index": ["kind": "hnsw", "m": 1]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.index.m: 1 is out of range; allowed: an integer in [2, 256]")
        object["scorer"] = ["kind": "patchcore", "index": ["kind": "ivf_pq", "codebytes": 8]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: scorer.index.codebytes: unknown key; did you mean \"code_bytes\"? "
                       + "allowed keys here: kind, lists, code_bytes, probe, rerank")
    }

    // MARK: Paths and environment variables

    func testEnvironmentVariablesExpandInPaths() throws {
        var object = baseSpec()
        object["dataset"] = ["kind": "folders", "root": "$TRAWL_DATA/cells"]
        object["backbone"] = ["name": "resnet18", "weights": "${TRAWL_WEIGHTS}_v2/r18.pth"]
        let spec = try decode(object, environment: ["TRAWL_DATA": "/data", "TRAWL_WEIGHTS": "w"])
        XCTAssertEqual(spec.datasets[0].configuration, .folders(FoldersConfiguration(root: "/data/cells", seed: 0)))
        XCTAssertEqual(spec.backbone.weights, "/specs/here/w_v2/r18.pth")
    }

    func testUnsetEnvironmentVariableIsNamed() {
        var object = baseSpec()
        object["dataset"] = ["kind": "folders", "root": "${TRAWL_DATA}/cells"]
        XCTAssertEqual(specError(object, environment: ["OTHER": "x"])?.description,
                       "Experiments/t.json: dataset.root: environment variable TRAWL_DATA is not set (in \"${TRAWL_DATA}/cells\")")
    }

    func testEnvironmentExpansionRules() throws {
        let environment = ["A": "1", "A_B": "2", "EMPTY": ""]
        XCTAssertEqual(try expandEnvironment("$A/$A_B/${A}_B/$$A/x$EMPTY", environment), "1/2/1_B/$A/x")
        XCTAssertThrowsError(try expandEnvironment("a$", environment))
        XCTAssertThrowsError(try expandEnvironment("${A", environment))
        XCTAssertThrowsError(try expandEnvironment("${1A}", environment))
        XCTAssertThrowsError(try expandEnvironment("$-", environment))
    }

    func testAbsolutePathsAreKeptAndRelativeOnesAnchoredAtTheSpecFolder() throws {
        var object = baseSpec()
        object["dataset"] = ["kind": "mvtec", "root": "../shared/bottle"]
        XCTAssertEqual(try decode(object).datasets[0].configuration, .mvtec(MVTecConfiguration(root: "/specs/shared/bottle")))
        object["dataset"] = ["kind": "mvtec", "root": "/abs/bottle"]
        XCTAssertEqual(try decode(object).datasets[0].configuration, .mvtec(MVTecConfiguration(root: "/abs/bottle")))
    }

    func testTapModuleNamesAreStoredAsStrideAliases() throws {
        var object = baseSpec()
        object["backbone"] = ["name": "efficientnet-lite0", "taps": ["_blocks.4", "stride16"]]
        XCTAssertEqual(try decode(object).backbone.taps, ["stride8", "stride16"])
        object["backbone"] = ["name": "efficientnet-lite0", "taps": ["stride8", "_blocks.4"]]
        XCTAssertEqual(specError(object)?.description,
                       "Experiments/t.json: backbone.taps[1]: \"_blocks.4\" is listed twice (as stride8)")
        object["backbone"] = ["name": "efficientnet-lite0", "taps": ["layer2"]]
        XCTAssertEqual(specError(object)?.path.description, "backbone.taps[0]")
        object["backbone"] = ["name": "resnet18", "taps": ["layer2", "layer3"]]
        XCTAssertEqual(try decode(object).backbone.taps, ["stride8", "stride16"])
    }

    func testTilingTakesDefaultsAndIsChecked() throws {
        var object = baseSpec()
        object["backbone"] = ["name": "efficientnet-lite0", "tiling": [String: Any]()]
        XCTAssertEqual(try decode(object).backbone.tiling, Tiling(tile: 224, stride: 192, scale: 1))
        object["backbone"] = ["name": "efficientnet-lite0", "tiling": ["tile": 256, "stride": 256, "scale": 0.5]]
        XCTAssertEqual(try decode(object).backbone.tiling, Tiling(tile: 256, stride: 256, scale: 0.5))
        XCTAssertNil(try decode(baseSpec()).backbone.tiling)

        object["backbone"] = ["name": "efficientnet-lite0", "tiling": ["tile": 224, "stride": 300]]
        XCTAssertEqual(specError(object)?.description, "Experiments/t.json: backbone.tiling.stride: 300 is larger than "
                       + "tile 224 (tiles would leave gaps); allowed: an integer in [1, 224]")
        object["backbone"] = ["name": "efficientnet-lite0", "tiling": ["scale": 0]]
        XCTAssertEqual(specError(object)?.path.description, "backbone.tiling.scale")
        object["backbone"] = ["name": "efficientnet-lite0", "tiling": ["tiel": 224]]
        XCTAssertTrue(specError(object)?.reason.hasPrefix("unknown key; did you mean \"tile\"?") ?? false)
        object["backbone"] = ["name": "efficientnet-lite0", "input_size": 224, "tiling": ["tile": 224]]
        XCTAssertEqual(specError(object)?.path.description, "backbone.input_size")
    }

    func testEditDistanceCountsTranspositionsOnce() {
        XCTAssertEqual(editDistance("coreset_ratoi", "coreset_ratio"), 1)
        XCTAssertEqual(editDistance("kitten", "sitting"), 3)
        XCTAssertEqual(editDistance("", "abc"), 3)
        XCTAssertNil(closestMatch(to: "colour", among: ["name", "seed"]))
    }

    // MARK: Schema and committed specs

    /// Every object shape the decoder declares has a `$defs` entry in
    /// Experiments/schema.json with exactly the same properties and required keys, and the
    /// schema defines nothing the decoder does not read.
    func testSchemaMatchesTheDecoder() throws {
        let url = repositoryRoot.appendingPathComponent("Experiments/schema.json")
        let schema = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        XCTAssertEqual(schema["$schema"] as? String, "https://json-schema.org/draft/2020-12/schema")
        XCTAssertEqual(schema["$ref"] as? String, "#/$defs/experiment")
        let definitions = try XCTUnwrap(schema["$defs"] as? [String: [String: Any]])
        XCTAssertEqual(Set(definitions.keys), Set(ExperimentSpec.shapes.map(\.definition)))
        for shape in ExperimentSpec.shapes {
            let definition = try XCTUnwrap(definitions[shape.definition], shape.definition)
            let properties = try XCTUnwrap(definition["properties"] as? [String: Any], shape.definition)
            XCTAssertEqual(Set(properties.keys), Set(shape.keys), shape.definition)
            XCTAssertEqual(Set(definition["required"] as? [String] ?? []), Set(shape.required), shape.definition)
            XCTAssertEqual(definition["additionalProperties"] as? Bool, false, shape.definition)
        }
        // Enumerations the decoder accepts appear in the schema.
        let experiment = try XCTUnwrap(definitions["experiment"]?["properties"] as? [String: [String: Any]])
        let metricItems = try XCTUnwrap(experiment["metrics"]?["items"] as? [String: Any])
        XCTAssertEqual(metricItems["enum"] as? [String], MetricName.allCases.map(\.rawValue))
        let backbone = try XCTUnwrap(definitions["backbone"]?["properties"] as? [String: [String: Any]])
        XCTAssertEqual(backbone["name"]?["enum"] as? [String], BackboneSpec.names)
    }

    /// Every spec committed under Experiments/ decodes.
    func testCommittedSpecsDecode() throws {
        let folder = repositoryRoot.appendingPathComponent("Experiments")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".json") && $0 != "schema.json" }.sorted()
        XCTAssertTrue(files.contains("elpv-patchcore-default.json"))
        for file in files {
            XCTAssertNoThrow(try ExperimentSpec(contentsOf: folder.appendingPathComponent(file)), file)
        }
    }
}
