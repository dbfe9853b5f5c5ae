import Datasets
@testable import Experiments
import Foundation
import TestSupport
import XCTest

/// The committed specs under Experiments/ (with subfolders) and the paper configurations
/// that need the user's data and weights.
final class ExperimentCatalogTests: XCTestCase {
    private let experiments = repositoryRoot.appendingPathComponent("Experiments")
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private var userEnvironment: [String: String] {
        ["MVTEC_AD": scratch.appendingPathComponent("mvtec_anomaly_detection").path,
         "TORCH_HOME": scratch.appendingPathComponent("torch").path,
         "FATHOMNET_MANIFEST": scratch.appendingPathComponent("fathomnet/images.json").path]
    }

    private func paperSpec(_ name: String, environment: [String: String]) throws -> ExperimentSpec {
        try ExperimentSpec(contentsOf: experiments.appendingPathComponent("paper/\(name).json"),
                           file: "Experiments/paper/\(name).json", environment: environment)
    }

    func testEveryCommittedSpecDecodesGivenTheUsersEnvironment() throws {
        let catalog = try ExperimentCatalog(directory: experiments)
        XCTAssertEqual(catalog.names.filter { $0.hasPrefix("paper-patchcore-wrn50-") }.count, 15)
        XCTAssertEqual(catalog.names.filter { $0.hasPrefix("fashion-mnist-one-class-") }.count, 3)
        for name in catalog.names {
            let url = try catalog.file(named: name)
            XCTAssertNoThrow(try ExperimentSpec(contentsOf: url, environment: userEnvironment), name)
        }
    }

    func testCatalogFindsSpecsInSubfoldersAndSuggestsNearNames() throws {
        let catalog = try ExperimentCatalog(directory: experiments)
        XCTAssertEqual(try catalog.file(named: "paper-patchcore-wrn50-bottle").lastPathComponent,
                       "paper-patchcore-wrn50-bottle.json")
        XCTAssertEqual(catalog.names.first, "elpv-knn", "top-level specs first, in name order")
        XCTAssertThrowsError(try catalog.file(named: "elpv-knm")) {
            XCTAssertEqual("\($0)", "no spec named elpv-knm under Experiments/ (did you mean elpv-knn?)")
        }
    }

    func testPaperSpecsFollowThePublishedConfiguration() throws {
        let spec = try paperSpec("paper-patchcore-wrn50-carpet", environment: userEnvironment)
        XCTAssertEqual(spec.datasets[0].configuration, .mvtec(MVTecConfiguration(root: userEnvironment["MVTEC_AD"]! + "/carpet")))
        XCTAssertEqual(spec.backbone.name, "wide_resnet50_2")
        XCTAssertEqual(spec.backbone.weights, userEnvironment["TORCH_HOME"]! + "/hub/checkpoints/wide_resnet50_2-95faca4d.pth")
        XCTAssertEqual(spec.backbone.taps, ["stride8", "stride16"])
        XCTAssertEqual([spec.backbone.resize, spec.backbone.inputSize], [256, 224])
        XCTAssertEqual(spec.grid.map { $0.parameters.first { $0.name == "coreset_ratio" }?.value }, ["0.01", "0.1", "0.25"])
        XCTAssertEqual(spec.features.pretrainDim.values, [1024])
        XCTAssertEqual(spec.features.targetDim.values, [1024])

        let fathomnet = try paperSpec("paper-fathomnet-knn-resnet50", environment: userEnvironment)
        guard case .knn(let knn) = fathomnet.scorer else { return XCTFail("\(fathomnet.scorer)") }
        XCTAssertEqual(knn.k.values, [100])
        XCTAssertEqual(knn.metric.values, [.cosine])
        XCTAssertEqual(fathomnet.metrics.first, .sauc)
        XCTAssertEqual(fathomnet.backbone.name, "resnet50")
    }

    /// Without the user's environment each paper spec fails at once, naming the variable.
    func testPaperSpecsNameTheMissingEnvironmentVariable() throws {
        var environment = userEnvironment
        environment["MVTEC_AD"] = nil
        XCTAssertThrowsError(try paperSpec("paper-patchcore-wrn50-bottle", environment: environment)) {
            XCTAssertEqual("\($0)", "Experiments/paper/paper-patchcore-wrn50-bottle.json: dataset.root: "
                           + "environment variable MVTEC_AD is not set (in \"$MVTEC_AD/bottle\")")
        }
        environment = userEnvironment
        environment["TORCH_HOME"] = nil
        XCTAssertThrowsError(try paperSpec("paper-patchcore-wrn50-zipper", environment: environment)) {
            XCTAssertTrue("\($0)".hasSuffix("backbone.weights: environment variable TORCH_HOME is not set "
                                            + "(in \"$TORCH_HOME/hub/checkpoints/wide_resnet50_2-95faca4d.pth\")"), "\($0)")
        }
        environment = userEnvironment
        environment["FATHOMNET_MANIFEST"] = nil
        XCTAssertThrowsError(try paperSpec("paper-fathomnet-knn-resnet50", environment: environment)) {
            XCTAssertEqual("\($0)", "Experiments/paper/paper-fathomnet-knn-resnet50.json: dataset.path: "
                           + "environment variable FATHOMNET_MANIFEST is not set (in \"$FATHOMNET_MANIFEST\")")
        }
    }

    /// With the variables set but the data absent, loading names the missing folder or file.
    func testPaperSpecsNameTheMissingDataset() throws {
        let mvtec = try paperSpec("paper-patchcore-wrn50-hazelnut", environment: userEnvironment)
        XCTAssertThrowsError(try mvtec.datasets[0].configuration.load()) {
            XCTAssertTrue("\($0)".contains(self.userEnvironment["MVTEC_AD"]! + "/hazelnut"), "\($0)")
        }
        let fathomnet = try paperSpec("paper-fathomnet-knn-resnet50", environment: userEnvironment)
        XCTAssertThrowsError(try fathomnet.datasets[0].configuration.load()) {
            XCTAssertTrue("\($0)".contains(self.userEnvironment["FATHOMNET_MANIFEST"]!), "\($0)")
        }
    }

    /// With the data present but no torchvision checkpoint, the run stops at the backbone,
    /// naming the weights file it looked for.
    func testPaperSpecRunNamesTheMissingWeightsFile() throws {
        guard let shared = sharedDirectory else { throw XCTSkip("../shared is absent") }
        var environment = userEnvironment
        environment["MVTEC_AD"] = shared.appendingPathComponent("datasets/mvtec").path
        let url = experiments.appendingPathComponent("paper/paper-patchcore-wrn50-grid.json")
        let spec = try ExperimentSpec(contentsOf: url, environment: environment)
        var options = RunOptions(root: scratch, toolVersion: "test", showsProgress: false)
        options.assetsDirectory = assetsDirectory
        var runner = ExperimentRunner(spec: spec, specFile: url, options: options)
        runner.log = { _ in }
        XCTAssertThrowsError(try runner.run()) {
            XCTAssertTrue("\($0)".contains("No file at \(environment["TORCH_HOME"]!)/hub/checkpoints/wide_resnet50_2-95faca4d.pth"),
                          "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("Results/\(spec.name)").path),
                       "a failed run publishes nothing")
    }

    func testPlaceholdersDescribeSpecsWhoseVariablesAreUnset() throws {
        let catalog = try ExperimentCatalog(directory: experiments)
        let spec = try catalog.spec(named: "paper-patchcore-wrn50-bottle", placeholdersForUnsetVariables: true)
        guard ProcessInfo.processInfo.environment["MVTEC_AD"] == nil else { throw XCTSkip("MVTEC_AD is set") }
        guard case .mvtec(let configuration) = spec.datasets[0].configuration else { return XCTFail("\(spec.datasets)") }
        XCTAssertTrue(configuration.root.hasSuffix("/$MVTEC_AD/bottle"), configuration.root)
    }
}
