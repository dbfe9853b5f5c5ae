import Foundation
import Images
@testable import Reports
import Tables
import Tensors
import XCTest

final class ReportTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-report-\(UUID().uuidString)/sweep")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
    }

    private func write(_ text: String, _ name: String) throws {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    private func writePNG(_ name: String) throws {
        let image = Image(pixels: Tensor(shape: [3, 4, 4], data: (0..<48).map { Float($0 * 5) }))
        try write("", name)
        try image.pngData().write(to: folder.appendingPathComponent(name))
    }

    /// A results folder like a PatchCore run with a 30-point sweep (6 coreset ratios × 5 k),
    /// every table present, a synthetic embedding.csv and a gallery of two images.
    private func writeSweepFolder() throws {
        var metrics = "point,pooling,coreset_ratio,k,metric,auroc,ap,threshold,bank_size,fit_seconds,score_seconds\n"
        var roc = "point,threshold,fpr,tpr\n"
        var pr = "point,threshold,precision,recall\n"
        for point in 0..<30 {
            let ratio = [0.01, 0.05, 0.1, 0.25, 0.5, 1][point / 5]
            let auroc = 0.8 + Double(point) / 200
            metrics += "\(point),3,\(ratio),\(point % 5 + 1),euclidean,\(auroc),0.9,1.5,100,1.0,1.0\n"
            roc += "\(point),inf,0.0,0.0\n\(point),2.0,0.1,\(auroc - 0.2)\n\(point),1.0,1.0,1.0\n"
            pr += "\(point),1.0,0.5,1.0\n\(point),2.0,0.9,0.5\n\(point),,1.0,0.0\n"
        }
        try write(metrics, "metrics.csv")
        try write(roc, "roc.csv")
        try write(pr, "pr.csv")
        var scores = "point,id,split,label,label_detail,score,predicted,site\n"
        for i in 0..<20 {
            scores += "29,test/good/\(i).png,test,normal,good,\(1 + Double(i) / 20),normal,A\n"
            scores += "29,test/bad/\(i).png,test,anomalous,crack,\(1.5 + Double(i) / 10),anomalous,B\n"
            scores += "29,train/\(i).png,train,normal,good,\(0.9 + Double(i) / 40),normal,A\n"
        }
        try write(scores, "scores.csv")
        try write("point,threshold,true_positives,false_positives,true_negatives,false_negatives,precision,recall,f1,accuracy\n", "confusion.csv")
        try write("""
            {"name": "sweep", "description": "a <sweep> & more", "threshold_rule": "train_percentile 95 (of training scores)",
             "headline": {"metric": "auroc", "value": 0.945, "point": 29}, "seed": 0,
             "git": {"sha": "abc123", "dirty": true}, "spec": {"path": "Experiments/sweep.json", "sha256": "ff"},
             "dataset": {"counts": {"train": {"good": 20}, "test": {"good": 20, "crack": 20}},
                         "kinds": {"train": {"normal": 20}, "test": {"normal": 20, "anomalous": 20}},
                         "excluded": [{"reason": "missing depth_m", "count": 12}]},
             "stages": [{"name": "features", "seconds": 12.5}], "wall_seconds": 20.25, "peak_memory_bytes": 104857600}
            """, "run.json")
        try write("""
            section,rank,id,file,scale_min,scale_max
            most_anomalous,1,test/bad/19.png,heatmaps/01_test_bad_19.png,0.5,3.5
            least_anomalous,1,test/good/0.png,gallery/1_test_good_0.png,0.5,3.5
            false_positives,1,test/good/19.png,gallery/2 a&b.png,,

            """, "gallery.csv")
        try writePNG("heatmaps/01_test_bad_19.png")
        try writePNG("gallery/1_test_good_0.png")
        try writePNG("gallery/2 a&b.png")
        var embedding = "id,split,label,pca_x,pca_y,umap_x,umap_y\n"
        for i in 0..<20 {
            embedding += "train/\(i).png,train,normal,\(Double(i) / 10),\(sin(Double(i))),\(cos(Double(i))),\(Double(i % 3))\n"
            embedding += "test/bad/\(i).png,test,anomalous,\(2 + Double(i) / 10),\(sin(Double(i))),\(3 + cos(Double(i))),\(Double(i % 4))\n"
        }
        try write(embedding, "embedding.csv")
    }

    func testSweepReportWritesEveryFigureAsValidSVGWithAxisLabelsAndLegend() throws {
        try writeSweepFolder()
        let written = try Report.write(in: folder)
        XCTAssertEqual(written, ["roc.svg", "pr.svg", "scores.svg", "sweep_coreset_ratio.svg", "sweep_k.svg",
                                 "embedding.svg", "report.html"])
        for file in written where file.hasSuffix(".svg") {
            let summary = try SVGSummary(String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8))
            XCTAssertGreaterThanOrEqual(summary.axisLabels.count, 2, file)
            XCTAssertTrue(summary.axisLabels.allSatisfy { !$0.isEmpty }, file)
            XCTAssertFalse(summary.legendTexts.isEmpty, file)
        }
        // 30 grid points: the ROC legend stays short (chance, the other points, the best one).
        let roc = try SVGSummary(String(contentsOf: folder.appendingPathComponent("roc.svg"), encoding: .utf8))
        XCTAssertEqual(roc.legendTexts, ["chance", "other grid points (29)",
                                         "best: point 29: coreset_ratio=1.0, k=5 (AUROC 0.945)"])
        let scores = try SVGSummary(String(contentsOf: folder.appendingPathComponent("scores.svg"), encoding: .utf8))
        XCTAssertEqual(scores.legendTexts, ["training images (20)", "test normal (20)", "test anomalous (20)",
                                            "threshold 1.5: train_percentile 95 (of training scores)"])
        let embedding = try SVGSummary(String(contentsOf: folder.appendingPathComponent("embedding.svg"), encoding: .utf8))
        XCTAssertEqual(embedding.axisLabels, ["PCA 1", "PCA 2", "UMAP 1", "UMAP 2"])
        XCTAssertEqual(embedding.legendTexts, ["train normal (20)", "test anomalous (20)", "train normal (20)", "test anomalous (20)"])

        let page = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("<p class=\"description\">a &lt;sweep&gt; &amp; more</p>"))
        XCTAssertTrue(page.contains("missing depth_m: 12 excluded"))
        XCTAssertTrue(page.contains("abc123 (uncommitted changes)"))
        XCTAssertTrue(page.contains("100 MiB"))
        XCTAssertTrue(page.contains("All anomaly maps share one colour scale: 0.5 (dark blue) to 3.5 (dark red)"))
        XCTAssertTrue(page.contains("<img src=\"gallery/2%20a%26b.png\""))
        XCTAssertTrue(page.contains("<tr class=\"best\"><td class=\"number\">29</td>"))
        XCTAssertFalse(page.lowercased().contains("<script"))
        XCTAssertEqual(page.components(separatedBy: "<figure class=\"gallery-card").count - 1, 3)
        XCTAssertEqual(try Report.problems(in: folder), [])

        // A missing image and a broken SVG are reported by name.
        try FileManager.default.removeItem(at: folder.appendingPathComponent("gallery/1_test_good_0.png"))
        try write("<svg><g></svg>", "pr.svg")
        let problems = try Report.problems(in: folder)
        XCTAssertEqual(problems.count, 2, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("gallery/1_test_good_0.png does not exist") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasSuffix("pr.svg: not well-formed SVG") || $0.contains("pr.svg: not well-formed SVG") },
                      "\(problems)")
        // The report is a pure function of the folder: writing it again gives the same bytes.
        try writeSweepFolder()
        try Report.write(in: folder)
        let again = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        try Report.write(in: folder)
        XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8), again)
    }

    func testCommittedBaselineFolderGetsAReportWithoutFigures() throws {
        try write("point,pooling,k,auroc,threshold,bank_size,fit_seconds,score_seconds\n0,3,1,0.9,1.0,,1,1\n", "metrics.csv")
        try write("# sweep\n\nold description\n\n| point |\n", "metrics.md")
        try write("{\"name\": \"sweep\", \"seed\": 0}", "run.json")
        XCTAssertEqual(try Report.write(in: folder), ["report.html"])
        let page = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("old description"))
        XCTAssertTrue(page.contains("run the experiment to draw them"))
        XCTAssertTrue(page.contains("gallery.csv is absent"))
        XCTAssertEqual(try Report.problems(in: folder), [])
    }

    func testMissingFolderAndBadCSVAreClearErrors() throws {
        XCTAssertThrowsError(try Report.write(in: folder.appendingPathComponent("nope"))) {
            XCTAssertTrue("\($0)".contains("no such results folder"), "\($0)")
        }
        try write("point,auroc\n0\n", "metrics.csv")
        XCTAssertThrowsError(try Report.write(in: folder)) {
            XCTAssertTrue("\($0)".contains("metrics.csv: line 2: 1 cells for 2 columns"), "\($0)")
        }
    }

    func testBlankScreenshotIsDetected() throws {
        let blank = Image(pixels: Tensor(shape: [3, 10, 10], data: [Float](repeating: 255, count: 300)))
        var data = [Float](repeating: 255, count: 300)
        for i in 0..<30 { data[i] = 0 }  // 30 of 100 red-channel pixels differ
        let drawn = Image(pixels: Tensor(shape: [3, 10, 10], data: data))
        try blank.pngData().write(to: folder.appendingPathComponent("blank.png"))
        try drawn.pngData().write(to: folder.appendingPathComponent("drawn.png"))
        XCTAssertEqual(try ImageCheck.dominantColourShare(ofImageAt: folder.appendingPathComponent("blank.png")), 1)
        XCTAssertEqual(try ImageCheck.dominantColourShare(ofImageAt: folder.appendingPathComponent("drawn.png")), 0.7, accuracy: 1e-12)
    }
}
