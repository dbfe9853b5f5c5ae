@testable import Experiments
import Foundation
import Tables
import TestSupport
import XCTest

final class RegressionTests: XCTestCase {
    private func table(_ csv: String) throws -> Table {
        try Table(csv: csv, file: "metrics.csv")
    }

    private let tolerances: [(metric: String, tolerance: Double)] = [("auroc", 0.005), ("ap", 0.01)]

    private let baselineCSV = """
        coreset_ratio,k,auroc,ap,seconds
        0.01,1,0.9,0.8,12.5
        0.1,1,0.95,0.85,20.1

        """

    // MARK: CSV

    func testCSVReadsQuotedCellsAndRoundTripsTableCSV() throws {
        var original = Table(header: ["name", "note", "auroc"])
        original.append(["a,b", "say \"hi\"\nnext line", "0.5"])
        original.append(["", "plain", "nan"])
        let parsed = try table(original.csv)
        XCTAssertEqual(parsed, original)
        XCTAssertEqual(try table("a,b\r\n1,2\r\n").rows, [["1", "2"]])
        XCTAssertEqual(try table("a,b\n1,2").rows, [["1", "2"]], "no final line break")
    }

    func testCSVErrorsNameFileAndLine() {
        XCTAssertThrowsError(try table("a,b\n1,2\n3\n")) {
            XCTAssertEqual("\($0)", "metrics.csv: line 3: 1 cells for 2 columns")
        }
        XCTAssertThrowsError(try table("a,b\n\"1,2\n")) { XCTAssertEqual("\($0)", "metrics.csv: line 3: unclosed quote") }
        XCTAssertThrowsError(try table("")) { XCTAssertEqual("\($0)", "metrics.csv: empty file (expected a header line)") }
    }

    // MARK: Comparison

    func testIdenticalTablesPass() throws {
        let comparison = BaselineComparison(experiment: "e", baseline: try table(baselineCSV),
                                            current: try table(baselineCSV), keyColumns: ["coreset_ratio", "k"],
                                            tolerances: tolerances)
        XCTAssertTrue(comparison.passed)
    }

    func testChangesWithinToleranceAndInOtherColumnsPass() throws {
        // auroc moves by 0.004 ≤ 0.005, ap by exactly its 0.01, the timing column freely;
        // the fresh run also lists its rows in another order.
        let current = """
            coreset_ratio,k,auroc,ap,seconds
            0.1,1,0.954,0.84,99
            0.01,1,0.896,0.81,1

            """
        let comparison = BaselineComparison(experiment: "e", baseline: try table(baselineCSV),
                                            current: try table(current), keyColumns: ["coreset_ratio", "k"],
                                            tolerances: tolerances)
        XCTAssertEqual(comparison.differences, [])
    }

    func testDriftBeyondToleranceFailsWithTheTable() throws {
        let current = """
            coreset_ratio,k,auroc,ap,seconds
            0.01,1,0.9,0.8,12.5
            0.1,1,0.93,0.85,20.1

            """
        let comparison = BaselineComparison(experiment: "mvtec-bottle", baseline: try table(baselineCSV),
                                            current: try table(current), keyColumns: ["coreset_ratio", "k"],
                                            tolerances: tolerances)
        XCTAssertFalse(comparison.passed)
        XCTAssertEqual(comparison.differences.count, 1)
        let drift = try XCTUnwrap(comparison.differences.first)
        XCTAssertEqual(drift.kind, .drift)
        XCTAssertEqual(drift.row, "coreset_ratio=0.1", "only the varying parameter names the row")
        XCTAssertEqual(drift.metric, "auroc")
        XCTAssertEqual(drift.delta ?? 0, -0.02, accuracy: 1e-12)
        XCTAssertEqual(comparison.differences.report, """
            experiment    row                metric  old     new     delta    tolerance  problem
            ------------  -----------------  ------  ------  ------  -------  ---------  ----------------------
            mvtec-bottle  coreset_ratio=0.1  auroc   0.9500  0.9300  -0.0200  0.0050     drift beyond tolerance

            """)
    }

    func testARiseBeyondToleranceIsADriftToo() throws {
        let current = baselineCSV.replacingOccurrences(of: "0.01,1,0.9,0.8", with: "0.01,1,0.92,0.8")
        let comparison = BaselineComparison(experiment: "e", baseline: try table(baselineCSV),
                                            current: try table(current), keyColumns: ["coreset_ratio", "k"],
                                            tolerances: tolerances)
        XCTAssertEqual(comparison.differences.map(\.kind), [.drift])
        XCTAssertEqual(comparison.differences.first?.delta ?? 0, 0.02, accuracy: 1e-12)
    }

    func testMissingAndNewRowsFail() throws {
        let current = """
            coreset_ratio,k,auroc,ap,seconds
            0.01,1,0.9,0.8,12.5

            """
        let comparison = BaselineComparison(experiment: "e", baseline: try table(baselineCSV),
                                            current: try table(current), keyColumns: ["coreset_ratio", "k"],
                                            tolerances: tolerances)
        XCTAssertEqual(comparison.differences.map(\.kind), [.missingRow])
        XCTAssertEqual(comparison.differences.map(\.row), ["coreset_ratio=0.1"])
        XCTAssertTrue(comparison.differences.report.contains("missing row"))

        let grown = try table(baselineCSV + "0.25,1,0.97,0.9,30\n")
        let reverse = BaselineComparison(experiment: "e", baseline: try table(baselineCSV), current: grown,
                                         keyColumns: ["coreset_ratio", "k"], tolerances: tolerances)
        XCTAssertEqual(reverse.differences.map(\.kind), [.newRow])
        XCTAssertEqual(reverse.differences.map(\.row), ["coreset_ratio=0.25"])
    }

    /// A changed parameter (k = 1 → 3) pairs the unmatched rows and compares their metrics.
    func testChangedParameterPairsRowsAndShowsTheDrift() throws {
        let current = """
            coreset_ratio,k,auroc,ap,seconds
            0.01,3,0.9,0.8,12.5
            0.1,3,0.8,0.85,20.1

            """
        let comparison = BaselineComparison(experiment: "e", baseline: try table(baselineCSV),
                                            current: try table(current), keyColumns: ["coreset_ratio", "k"],
                                            tolerances: tolerances)
        XCTAssertEqual(comparison.differences.map(\.kind), [.changedParameters, .changedParameters, .drift])
        XCTAssertEqual(comparison.differences.map(\.row), ["coreset_ratio=0.01 k=1 → coreset_ratio=0.01 k=3",
                                                           "coreset_ratio=0.1 k=1 → coreset_ratio=0.1 k=3",
                                                           "coreset_ratio=0.1 k=1 → coreset_ratio=0.1 k=3"])
        XCTAssertEqual(comparison.differences[0].old, "coreset_ratio=0.01 k=1")
        XCTAssertEqual(comparison.differences[0].new, "coreset_ratio=0.01 k=3")
        XCTAssertEqual(comparison.differences[2].delta ?? 0, -0.15, accuracy: 1e-12)
    }

    func testMissingMetricColumnFails() throws {
        let current = """
            coreset_ratio,k,auroc,seconds
            0.01,1,0.9,12.5
            0.1,1,0.95,20.1

            """
        let comparison = BaselineComparison(experiment: "e", baseline: try table(baselineCSV),
                                            current: try table(current), keyColumns: ["coreset_ratio", "k"],
                                            tolerances: tolerances)
        XCTAssertEqual(comparison.differences.map(\.kind), [.missingMetric])
        XCTAssertEqual(comparison.differences.first?.metric, "ap")
        XCTAssertEqual(comparison.differences.first?.old, "present")
        XCTAssertEqual(comparison.differences.first?.new, "—")
    }

    func testNaNEqualsNaNButNotANumberAndUnreadableCellsFail() throws {
        let baseline = try table("k,auroc,ap\n1,nan,0.5\n2,0.5,0.5\n")
        let current = try table("k,auroc,ap\n1,nan,nan\n2,0.5,oops\n")
        let comparison = BaselineComparison(experiment: "e", baseline: baseline, current: current,
                                            keyColumns: ["k"], tolerances: tolerances)
        XCTAssertEqual(comparison.differences.map(\.kind), [.drift, .unreadable])
        XCTAssertEqual(comparison.differences.map(\.metric), ["ap", "ap"])
    }

    func testRowsMatchByPositionWithoutSharedKeyColumns() throws {
        let baseline = try table("auroc,ap\n0.9,0.8\n0.7,0.6\n")
        let current = try table("auroc,ap\n0.9,0.8\n0.75,0.6\n")
        let comparison = BaselineComparison(experiment: "e", baseline: baseline, current: current,
                                            keyColumns: ["k"], tolerances: tolerances)
        XCTAssertEqual(comparison.differences.map(\.row), ["row 2"])
    }

    // MARK: Baselines on disk

    func testMissingBaselineSaysHowToCreateOne() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-regress-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = try ExperimentSpec(contentsOf: repositoryRoot.appendingPathComponent("Experiments/elpv-knn.json"))
        XCTAssertThrowsError(try Baseline(resultsDirectory: folder).metrics(of: spec)) {
            let message = "\($0)"
            XCTAssertTrue(message.hasPrefix("elpv-knn: no baseline at \(folder.path)/elpv-knn/baseline.csv."), message)
            XCTAssertTrue(message.contains("make baseline NAME=elpv-knn"), message)
        }
    }

    /// The committed baseline of a real spec against a fresh metrics.csv: rows keyed by the
    /// spec's grid parameters, the spec's metrics compared, timings ignored.
    func testBaselineComparesAFreshRunOfACommittedSpec() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-regress-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = try ExperimentSpec(contentsOf: repositoryRoot.appendingPathComponent("Experiments/elpv-knn.json"))
        let header = "point,k,metric,auroc,ap,f1_max,threshold,bank_size,fit_seconds,score_seconds\n"
        let committed = folder.appendingPathComponent("Results/elpv-knn")
        try FileManager.default.createDirectory(at: committed, withIntermediateDirectories: true)
        let run = committed.appendingPathComponent("metrics.csv")
        try Data((header + "0,1,cosine,0.80,0.92,0.86,0.007,200,0.05,0.3\n1,10,cosine,0.75,0.89,0.85,0.015,200,0.02,0.3\n").utf8)
            .write(to: run)
        let baseline = Baseline(resultsDirectory: folder.appendingPathComponent("Results"))
        try baseline.record("elpv-knn", fromMetrics: run)
        // The baseline keeps every column but the timings, byte for byte.
        XCTAssertEqual(try String(contentsOf: baseline.file(for: "elpv-knn"), encoding: .utf8), """
            point,k,metric,auroc,ap,f1_max,threshold,bank_size
            0,1,cosine,0.80,0.92,0.86,0.007,200
            1,10,cosine,0.75,0.89,0.85,0.015,200

            """)
        let fresh = folder.appendingPathComponent("fresh.csv")
        try Data((header + "0,1,cosine,0.80,0.92,0.86,0.9,200,9,9\n1,10,cosine,0.75,0.87,0.85,0.015,200,0.02,0.3\n").utf8)
            .write(to: fresh)
        let comparison = try baseline.compare(spec, freshMetrics: fresh)
        XCTAssertEqual(comparison.differences.map(\.row), ["k=10"])
        XCTAssertEqual(comparison.differences.map(\.metric), ["ap"])
        XCTAssertEqual(comparison.differences.first?.tolerance, 0.005)
    }

    func testSpecTolerancesDefaultTo0005AndFollowTheSpec() throws {
        let spec = try ExperimentSpec(data: Data("""
            {"name": "t", "dataset": {"kind": "mvtec", "root": "/x"}, "backbone": {"name": "efficientnet-lite0"},
             "scorer": {"kind": "knn"}, "metrics": ["auroc", "ap"], "tolerances": {"ap": 0.02}}
            """.utf8), file: "t.json", directory: URL(fileURLWithPath: "/"))
        XCTAssertEqual(spec.regressionTolerances.map(\.metric), ["auroc", "ap"])
        XCTAssertEqual(spec.regressionTolerances.map(\.tolerance), [0.005, 0.02])
    }
}

final class ResultsSummaryTests: XCTestCase {
    private let catalog = try! ExperimentCatalog(directory: repositoryRoot.appendingPathComponent("Experiments"))

    private func results(_ name: String, _ csv: String) throws -> ExperimentResults {
        ExperimentResults(spec: try catalog.spec(named: name), metrics: try Table(csv: csv, file: name))
    }

    func testOneRowPerGridRowAndFashionMNISTMeans() throws {
        var experiments = [try results("mvtec-bottle-patchcore", """
            point,pooling,pretrain_dim,target_dim,coreset_ratio,k,metric,reweighting,auroc,ap,f1_max,threshold,bank_size,fit_seconds,score_seconds
            0,3,all,all,0.01,1,euclidean,false,0.99206,0.9975,0.98,1.5,1639,1.0,1.0
            1,3,all,all,0.1,1,euclidean,false,1.0,1.0,1.0,1.5,16390,1.0,1.0

            """)]
        // AUROC 0.5 + class/20: the mean over classes 0…9 is 0.725.
        experiments.append(try results("fashion-mnist-one-class-knn", """
            point,normal_classes,k,metric,aggregate,auroc,ap,fpr_at_95_tpr,aupr_in,aupr_out,threshold,bank_size
            \((0..<10).map { "\($0),\($0),100,cosine,mean,\(0.5 + Double($0) / 20),0.5,0.25,0.5,0.75,0.1,500" }.joined(separator: "\n"))

            """))
        let markdown = ResultsSummary(experiments: experiments).markdown
        let lines = markdown.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("| [mvtec-bottle-patchcore](mvtec-bottle-patchcore/report.html) | MVTec AD bottle | efficientnet-lite0 stride8+stride16, 224 crop of 256, 3×3 pool "
                                     + "| PatchCore (k 1, euclidean) | coreset_ratio=0.01 "
                                     + "| 0.992 | 0.998 | 0.980 |  |  |  |  |  |  |  |  |"), markdown)
        XCTAssertTrue(lines.contains { $0.hasPrefix("| [mvtec-bottle-patchcore](mvtec-bottle-patchcore/report.html) |") && $0.contains("| coreset_ratio=0.1 | 1.000 |") })
        XCTAssertTrue(lines.contains("| [fashion-mnist-one-class-knn](fashion-mnist-one-class-knn/report.html) | Fashion-MNIST one-vs-rest, mean of 10 classes "
                                     + "| efficientnet-lite0 stride8+stride16, 64 px | kNN (k 100, cosine, mean) |  "
                                     + "| 0.725 | 0.500 |  |  |  |  | 0.250 | 0.500 | 0.750 |  |  |"), markdown)
        XCTAssertTrue(lines.contains("| 3 Dress | [0.650](fashion-mnist-one-class-knn/report.html) |"), markdown)
        XCTAssertTrue(lines.contains("| **mean** | **0.725** |"), markdown)
    }
}
