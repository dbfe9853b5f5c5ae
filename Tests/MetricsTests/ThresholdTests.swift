import XCTest
import Metrics

final class ThresholdTests: XCTestCase {
    // anomalib tests/unit/metrics/test_f1_max.py
    func testF1MaxAnomalibCases() throws {
        let labels = [false, true, true, true]
        let perfect = try f1Max(scores: [0.1, 0.5, 0.9, 1.0], labels: labels)
        XCTAssertEqual(perfect.f1, 1.0)
        XCTAssertEqual(perfect.threshold, 0.5)

        let imperfect = try f1Max(scores: [0.1, 0.5, 0.9, 0.1], labels: labels)
        XCTAssertEqual((imperfect.f1 * 10_000).rounded() / 10_000, 0.8571)
        XCTAssertEqual(imperfect.f1, 6.0 / 7.0, accuracy: 1e-15)  // P = 3/4, R = 1
        XCTAssertEqual(imperfect.threshold, 0.1)
        XCTAssertEqual(imperfect.precision, 0.75)
        XCTAssertEqual(imperfect.recall, 1)

        let rawLabels = [false, true, true, true, true]
        let raw = try f1Max(scores: [-0.5, 0, 0.5, 1.0, 2], labels: rawLabels)
        XCTAssertEqual(raw.f1, 1)
        XCTAssertEqual(raw.threshold, 0)
        let raw2 = try f1Max(scores: [-0.5, 0.0, 1.0, 2.0, -0.1], labels: rawLabels)
        XCTAssertEqual(raw2.f1, 1)
        XCTAssertEqual(raw2.threshold, -0.1)
    }

    /// F1 = 2/3 both at 0.9 (P = 1, R = 1/2) and at 0.6 (P = 1/2, R = 1): anomalib's argmax over
    /// ascending thresholds takes the first, the lowest.
    func testF1MaxTieTakesTheLowestThreshold() throws {
        let result = try f1Max(scores: [0.9, 0.8, 0.7, 0.6], labels: [true, false, false, true])
        XCTAssertEqual(result.f1, 2.0 / 3.0, accuracy: 1e-15)
        XCTAssertEqual(result.threshold, 0.6)
    }

    // anomalib tests/unit/metrics/test_adaptive_threshold.py
    func testF1AdaptiveThresholdAnomalibCases() throws {
        XCTAssertEqual(try f1AdaptiveThreshold(scores: [2.3, 1.6, 2.6, 7.9, 3.3],
                                               labels: [false, false, false, true, true]), 3.3)
        XCTAssertEqual(try f1AdaptiveThreshold(scores: [4, 3, 2, 1], labels: [true, false, false, false]), 4)
        // anomalib's fallbacks for a single class.
        XCTAssertEqual(try f1AdaptiveThreshold(scores: [2, 5, 3], labels: [false, false, false]), 5)
        XCTAssertEqual(try f1AdaptiveThreshold(scores: [2, 5, 3], labels: [true, true, true]), 2)
        XCTAssertThrowsError(try f1Max(scores: [2, 5, 3], labels: [false, false, false])) {
            XCTAssertEqual($0 as? MetricError, .singleClass(metric: "F1-max", allAnomalous: false, count: 3))
        }
    }

    /// F1-max equals the best F1 over sklearn's precision–recall curve, at that point's threshold
    /// (the lowest threshold among ties).
    func testF1MaxMatchesSklearnPRCurve() throws {
        for c in try MetricsFixture.load().ranking {
            guard let pr = c.pr else { continue }
            var bestF1 = -1.0
            var bestThreshold = 0.0
            for (i, threshold) in pr.thresholds.enumerated() {
                let (p, r) = (pr.precision[i], pr.recall[i])
                let f1 = p + r == 0 ? 0 : 2 * p * r / (p + r)
                if f1 > bestF1 + 1e-12 { (bestF1, bestThreshold) = (f1, threshold) }
            }
            let result = try f1Max(scores: c.scores, labels: c.boolLabels)
            XCTAssertEqual(result.f1, bestF1, accuracy: 1e-12, c.name)
            XCTAssertEqual(result.threshold, bestThreshold, c.name)
            let matrix = try ConfusionMatrix(scores: c.scores, labels: c.boolLabels, threshold: result.threshold)
            XCTAssertEqual(matrix.f1, result.f1, accuracy: 1e-15, c.name)
        }
    }

    func testConfusionMatrixHandWorked() throws {
        let scores = [0.1, 0.4, 0.35, 0.8, 0.5]
        let labels = [false, false, true, true, true]
        // score ≥ 0.4 → anomalous: 0.4 (normal) is a false positive, 0.35 (anomalous) a false negative.
        let matrix = try ConfusionMatrix(scores: scores, labels: labels, threshold: 0.4)
        XCTAssertEqual(matrix, ConfusionMatrix(truePositives: 2, falsePositives: 1, trueNegatives: 1,
                                               falseNegatives: 1))
        XCTAssertEqual(matrix.precision, 2.0 / 3.0)
        XCTAssertEqual(matrix.recall, 2.0 / 3.0)
        XCTAssertEqual(matrix.f1, 2.0 / 3.0)
        XCTAssertEqual(matrix.accuracy, 3.0 / 5.0)

        let nothingFlagged = try ConfusionMatrix(scores: scores, labels: labels, threshold: 10)
        XCTAssertEqual(nothingFlagged, ConfusionMatrix(truePositives: 0, falsePositives: 0,
                                                       trueNegatives: 2, falseNegatives: 3))
        XCTAssertEqual(nothingFlagged.precision, 0)
        XCTAssertEqual(nothingFlagged.f1, 0)
        XCTAssertEqual(nothingFlagged.accuracy, 2.0 / 5.0)

        XCTAssertThrowsError(try ConfusionMatrix(scores: [1, .nan], labels: [true, false], threshold: 0)) {
            XCTAssertEqual(($0 as? MetricError).map { "\($0)" }, "score at index 1 is nan; scores must be finite")
        }
    }

    func testPercentileThresholdMatchesNumpy() throws {
        let p = try MetricsFixture.load().percentiles
        for (q, (expected, expectedSmall)) in zip(p.percentiles, zip(p.expected, p.expectedSmall)) {
            XCTAssertEqual(try percentileThreshold(normalScores: p.values, percentile: q), expected, "\(q)")
            XCTAssertEqual(try percentileThreshold(normalScores: p.small, percentile: q), expectedSmall, "\(q)")
        }
        // Sorted [1, 1.5, 3, 4, 9]: h = 4·0.95 = 3.8 → 4 + 0.8·(9 − 4) = 8.
        XCTAssertEqual(try percentileThreshold(normalScores: [3, 1, 4, 1.5, 9]), 8, accuracy: 1e-15)
        XCTAssertEqual(try percentileThreshold(normalScores: [7]), 7)
        XCTAssertThrowsError(try percentileThreshold(normalScores: [1, 2], percentile: 101))
        XCTAssertThrowsError(try percentileThreshold(normalScores: [])) {
            XCTAssertEqual($0 as? MetricError, .emptyInput(what: "normal scores"))
        }
    }
}
