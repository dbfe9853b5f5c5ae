@testable import Experiments
import FileLocks
import Foundation
import Tables
import XCTest

final class ResultsTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-results-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func contents(_ url: URL) throws -> [String: String] {
        let names = try FileManager.default.subpathsOfDirectory(atPath: url.path).sorted()
        var files = [String: String]()
        for name in names {
            var isDirectory: ObjCBool = false
            let path = url.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[name] = try String(contentsOfFile: path, encoding: .utf8)
            }
        }
        return files
    }

    func testPublishReplacesThePreviousResultsAsAWhole() throws {
        let destination = folder.appendingPathComponent("exp")
        let publisher = ResultsPublisher(destination: destination)
        try publisher.publish { staging in
            try staging.write("a,b\n1,2\n", to: "metrics.csv")
            try staging.write("old heatmap", to: "heatmaps/0.png")
        }
        try publisher.publish { staging in
            try staging.write("a,b\n3,4\n", to: "metrics.csv")
        }
        XCTAssertEqual(try contents(destination), ["metrics.csv": "a,b\n3,4\n"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["exp"])
    }

    func testAFailureMidwayLeavesThePreviousResultsAndNoTemporaryFiles() throws {
        struct Simulated: Error {}
        let destination = folder.appendingPathComponent("exp")
        let publisher = ResultsPublisher(destination: destination)
        try publisher.publish { staging in
            try staging.write("first\n", to: "metrics.csv")
            try staging.write("first scores\n", to: "scores.csv")
        }
        XCTAssertThrowsError(try publisher.publish { staging in
            try staging.write("second\n", to: "metrics.csv")
            try staging.write("partial heatmap", to: "heatmaps/0.png")
            throw Simulated()
        }) { XCTAssertTrue($0 is Simulated) }
        XCTAssertEqual(try contents(destination), ["metrics.csv": "first\n", "scores.csv": "first scores\n"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["exp"])
    }

    /// A kept file (the committed baseline.csv) survives every publish byte for byte; a run
    /// that never had one gets none.
    func testKeptFilesAreCarriedOverUnchanged() throws {
        let destination = folder.appendingPathComponent("exp")
        let publisher = ResultsPublisher(destination: destination, keeping: ["baseline.csv"])
        try publisher.publish { try $0.write("run 1\n", to: "metrics.csv") }
        XCTAssertEqual(try contents(destination), ["metrics.csv": "run 1\n"])
        try Data("point,auroc\n0,0.9\n".utf8).write(to: destination.appendingPathComponent("baseline.csv"))
        try publisher.publish { try $0.write("run 2\n", to: "metrics.csv") }
        XCTAssertEqual(try contents(destination), ["metrics.csv": "run 2\n", "baseline.csv": "point,auroc\n0,0.9\n"])
    }

    /// Staging folders of runs killed mid-write (their PID gone) are removed by the next
    /// publish of that name; those of a live process and of other names are left alone.
    func testStagingFoldersOfKilledRunsAreRemoved() throws {
        let dead: Int32 = 2_147_483_646  // above any pid_max
        XCTAssertFalse(processIsAlive(dead))
        for name in [".exp.staging-\(dead)", ".exp.previous-\(dead)", ".exp.staging-1", ".other.staging-\(dead)"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(name + "/heatmaps"),
                                                    withIntermediateDirectories: true)
        }
        let destination = folder.appendingPathComponent("exp")
        try ResultsPublisher(destination: destination).publish { try $0.write("new\n", to: "metrics.csv") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(),
                       [".exp.staging-1", ".other.staging-\(dead)", "exp"])
        XCTAssertEqual(try contents(destination), ["metrics.csv": "new\n"])
    }

    /// A results folder that cannot be created fails at `lock`, before any computation.
    func testUnwritableResultsFolderFailsAtLock() throws {
        let blocker = folder.appendingPathComponent("Results")
        try Data("a file, not a folder".utf8).write(to: blocker)
        XCTAssertThrowsError(try ResultsPublisher(destination: blocker.appendingPathComponent("exp")).lock { _ in }) {
            XCTAssertTrue("\($0)".hasPrefix("\(blocker.path): cannot create the results folder"), "\($0)")
        }
    }

    func testFirstRunFailureLeavesNothing() throws {
        struct Simulated: Error {}
        let destination = folder.appendingPathComponent("exp")
        XCTAssertThrowsError(try ResultsPublisher(destination: destination).publish { staging in
            try staging.write("x", to: "metrics.csv")
            throw Simulated()
        })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }

    func testCSVQuotesOnlyWhatNeedsQuoting() {
        var table = Table(header: ["id", "label_detail", "score"])
        table.append(["a/b.png", "crack, \"large\"", cell(0.5)])
        table.append(["c.png", "line\nbreak", cell(Float(3.5e-05))])
        XCTAssertEqual(table.csv, "id,label_detail,score\na/b.png,\"crack, \"\"large\"\"\",0.5\nc.png,\"line\nbreak\",3.5e-05\n")
    }

    func testMarkdownTableEscapesPipes() {
        var table = Table(header: ["k", "auroc"])
        table.append(["a|b", "0.9"])
        XCTAssertEqual(table.markdown, "| k | auroc |\n| --- | --- |\n| a\\|b | 0.9 |\n")
    }

    func testCellsRoundTripExactly() {
        for value in [0.1, 1.0 / 3.0, 1e-300, 123456789.123] {
            XCTAssertEqual(Double(cell(value)), value)
        }
        XCTAssertEqual(cell(Double.nan), "nan")
        let float: Float = 0.1 + 0.2
        XCTAssertEqual(Float(cell(float)), float)
    }

    func testProgressWithoutATerminalPrintsPlainLinesEveryTenPercent() {
        var output = ""
        let progress = ProgressReporter("features", total: 100, isTerminal: false) { output += $0 }
        for _ in 0..<100 { progress.advance() }
        progress.finish()
        let lines = output.split(separator: "\n")
        XCTAssertFalse(output.contains("\r") || output.contains("\u{1B}"), output)
        XCTAssertEqual(lines.count, 11, output)  // at 1, 10, 20, … 90 %, then the summary
        XCTAssertTrue(lines[1].hasPrefix("features: 10/100 images, "), output)
        XCTAssertTrue(lines[1].contains("images/s, ETA "), output)
        XCTAssertTrue(lines[10].hasPrefix("features: 100 images in "), output)
    }

    func testProgressOnATerminalRedrawsOneLine() {
        var output = ""
        let progress = ProgressReporter("features", total: 2, isTerminal: true) { output += $0 }
        progress.advance(by: 2)
        progress.finish()
        XCTAssertTrue(output.hasPrefix("\rfeatures: [########################] 2/2 images"), output)
        XCTAssertTrue(output.hasSuffix("\n"))
        XCTAssertEqual(output.filter { $0 == "\n" }.count, 1)
    }
}
