import Foundation
import Metrics
import TestSupport
import XCTest

final class MeanAveragePrecisionTests: XCTestCase {
    func testHandWorkedQueries() throws {
        // Hit at rank 2: precision@2 = 1/2, one relevant label.
        XCTAssertEqual(try meanAveragePrecision(rankings: [["a", "b", "c"]], relevant: [["b"]]), 0.5)
        // Rank 1 "a" hit (1/1); ranks 2 and 4 repeat "a" and count nothing but occupy ranks;
        // rank 5 "c" hit (2/5). (1 + 0.4) / 2 relevant = 0.7.
        XCTAssertEqual(try meanAveragePrecision(rankings: [["a", "a", "b", "a", "c"]], relevant: [["a", "c"]]),
                       0.7, accuracy: 1e-15)
        // More relevant labels than k: divided by k = 2.
        XCTAssertEqual(try meanAveragePrecision(rankings: [["a", "b"]], relevant: [["a", "b", "c"]], k: 2), 1)
        // The hit lies beyond k.
        XCTAssertEqual(try meanAveragePrecision(rankings: [["x", "y", "r"]], relevant: [["r"]], k: 2), 0)
        let beyondTwenty = (1...20).map { "n\($0)" } + ["r"]
        XCTAssertEqual(try meanAveragePrecision(rankings: [beyondTwenty], relevant: [["r"]]), 0)
        // The mean over queries.
        XCTAssertEqual(try meanAveragePrecision(rankings: [["a", "b", "c"], ["a", "a", "b", "a", "c"], ["x"]],
                                                relevant: [["b"], ["a", "c"], ["x"]]),
                       (0.5 + 0.7 + 1) / 3, accuracy: 1e-15)
    }

    func testErrors() {
        XCTAssertThrowsError(try meanAveragePrecision(rankings: [[1], [2]], relevant: [[1], []])) {
            XCTAssertEqual($0 as? MetricError, .noRelevantLabels(query: 1))
        }
        XCTAssertThrowsError(try meanAveragePrecision(rankings: [[1]], relevant: [[1], [2]]))
        XCTAssertThrowsError(try meanAveragePrecision(rankings: [[Int]](), relevant: []))
        XCTAssertThrowsError(try meanAveragePrecision(rankings: [[1]], relevant: [[1]], k: 0))
    }
}

/// MAP@20, sAUC and the FathomNet 2023 score of a submission in the competition's format
/// (`id,categories,osd`) against a solution, as the competition's metric computes them
/// (Tests/Fixtures/metrics/fathomnet/make_fixture.py).
final class FathomNetScoreTests: XCTestCase {
    private func rows(_ name: String) throws -> [String: (categories: [Int], osd: Double)] {
        let url = fixturesDirectory.appendingPathComponent("metrics/fathomnet/\(name)")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "id,categories,osd")
        var table = [String: (categories: [Int], osd: Double)]()
        for line in lines.dropFirst() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            table[String(cells[0])] = (cells[1].split(separator: " ").map { Int($0)! }, Double(cells[2])!)
        }
        return table
    }

    func testMatchesTheCompetitionMetric() throws {
        let solution = try rows("solution.csv"), submission = try rows("submission.csv")
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: fixturesDirectory.appendingPathComponent("metrics/fathomnet/expected.json"))) as? [String: Any])
        let ids = solution.keys.sorted()
        XCTAssertEqual(ids.count, 42)
        let map = try meanAveragePrecision(rankings: ids.map { submission[$0]!.categories },
                                           relevant: ids.map { Set(solution[$0]!.categories) }, k: 20)
        let sauc = try scaledAUROC(scores: ids.map { submission[$0]!.osd }, labels: ids.map { solution[$0]!.osd == 1 })
        XCTAssertEqual(map, try XCTUnwrap(expected["map_at_20"] as? Double), accuracy: 1e-12)
        XCTAssertEqual(sauc, try XCTUnwrap(expected["sauc"] as? Double), accuracy: 1e-12)
        XCTAssertEqual((sauc + map) / 2, try XCTUnwrap(expected["score"] as? Double), accuracy: 1e-12)
    }
}
