import Foundation
import Metrics
import TestSupport
import XCTest

/// `Tests/Fixtures/metrics/ood_metrics.json`, written by `make_ood_fixtures.py` beside it:
/// OpenOOD v1.5's `auc_and_fpr_recall` on sklearn.
private struct OODFixture: Decodable {
    struct Case: Decodable {
        var name: String
        var scores: [Double]
        var labels: [Int]
        var fprAt95TPR: Double
        /// FPR at the highest threshold reaching TPR 0.95 on the full curve (no point dropped).
        var fprAt95TPRFullCurve: Double
        var auprIn: Double
        var auprOut: Double
        var boolLabels: [Bool] { labels.map { $0 == 1 } }
    }
    var cases: [Case]

    static func load() throws -> OODFixture {
        let url = fixturesDirectory.appendingPathComponent("metrics/ood_metrics.json")
        return try JSONDecoder().decode(OODFixture.self, from: Data(contentsOf: url))
    }
}

final class OODMetricsTests: XCTestCase {
    func testMatchOpenOODOnSklearn() throws {
        for c in try OODFixture.load().cases {
            XCTAssertEqual(try falsePositiveRate(scores: c.scores, labels: c.boolLabels), c.fprAt95TPR, c.name)
            XCTAssertEqual(try areaUnderPRIn(scores: c.scores, labels: c.boolLabels), c.auprIn, accuracy: 1e-12, c.name)
            XCTAssertEqual(try areaUnderPROut(scores: c.scores, labels: c.boolLabels), c.auprOut, accuracy: 1e-12, c.name)
        }
    }

    /// Tied pairs of one OOD and one ID sample make the ROC curve one straight diagonal:
    /// sklearn (and so OpenOOD) drops its inner points, so the FPR reported at 95 % TPR is
    /// the segment's end, 1, not the 0.95 of the point that first reaches 95 %.
    func testCollinearTiesFollowOpenOODNotTheFullCurve() throws {
        let c = try XCTUnwrap(try OODFixture.load().cases.first { $0.name == "collinear ties" })
        XCTAssertEqual(c.fprAt95TPR, 1)
        XCTAssertEqual(c.fprAt95TPRFullCurve, 0.95)
        XCTAssertEqual(try falsePositiveRate(scores: c.scores, labels: c.boolLabels), 1)
    }

    func testHandWorkedExample() throws {
        // OOD at 5, 4, 2; ID at 3, 1. TPR reaches 1 at threshold 2, where 1 of 2 ID is flagged.
        let scores: [Double] = [5, 4, 3, 2, 1], labels = [true, true, false, true, false]
        XCTAssertEqual(try falsePositiveRate(scores: scores, labels: labels), 0.5)
        XCTAssertEqual(try falsePositiveRate(scores: scores, labels: labels, atTruePositiveRate: 0.5), 0)
        // OOD positive: (R, P) = (1, .6) (1, .75) (2/3, 2/3) (2/3, 1) (1/3, 1) (0, 1):
        // trapezoids 0 + 17/72 + 0 + 1/3 + 1/3 = 65/72.
        XCTAssertEqual(try areaUnderPROut(scores: scores, labels: labels), 65.0 / 72, accuracy: 1e-15)
        // ID positive by −score: (1, .4) (1, .5) (1, 2/3) (.5, .5) (.5, 1) (0, 1):
        // 0 + 0 + 7/24 + 0 + 1/2 = 19/24.
        XCTAssertEqual(try areaUnderPRIn(scores: scores, labels: labels), 19.0 / 24, accuracy: 1e-15)
    }

    func testUndefinedOnOneClassAndBadRate() {
        XCTAssertThrowsError(try falsePositiveRate(scores: [1, 2], labels: [false, false]))
        XCTAssertThrowsError(try areaUnderPRIn(scores: [1, 2], labels: [true, true]))
        XCTAssertThrowsError(try falsePositiveRate(scores: [1, 2], labels: [false, true], atTruePositiveRate: 1.5)) {
            XCTAssertEqual($0 as? MetricError, .invalidParameter(name: "truePositiveRate", value: 1.5, reason: "must be in [0, 1]"))
        }
    }
}
