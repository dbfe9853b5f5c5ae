import XCTest
import Metrics

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
