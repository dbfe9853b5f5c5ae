import XCTest
@testable import Metrics

final class ImageMetricsTests: XCTestCase {
    func testAUROCAndAPMatchSklearn() throws {
        for c in try MetricsFixture.load().ranking {
            let auroc = try Metrics.auroc(scores: c.scores, labels: c.boolLabels)
            XCTAssertEqual(auroc, c.auroc, accuracy: 1e-12, c.name)
            XCTAssertEqual(try scaledAUROC(scores: c.scores, labels: c.boolLabels), 2 * c.auroc - 1,
                           accuracy: 1e-12, c.name)
            XCTAssertEqual(try averagePrecision(scores: c.scores, labels: c.boolLabels),
                           c.averagePrecision, accuracy: 1e-12, c.name)
        }
    }

    func testROCCurveMatchesSklearn() throws {
        for c in try MetricsFixture.load().ranking {
            guard let expected = c.roc else { continue }
            let curve = try rocCurve(scores: c.scores, labels: c.boolLabels)
            XCTAssertEqual(curve.thresholds, expected.thresholds.map { $0 ?? .infinity }, c.name)
            assertEqual(curve.falsePositiveRates, expected.fpr, c.name)
            assertEqual(curve.truePositiveRates, expected.tpr, c.name)
        }
    }

    func testPrecisionRecallCurveMatchesSklearn() throws {
        for c in try MetricsFixture.load().ranking {
            guard let expected = c.pr else { continue }
            let curve = try precisionRecallCurve(scores: c.scores, labels: c.boolLabels)
            XCTAssertEqual(curve.thresholds, expected.thresholds, c.name)
            assertEqual(curve.precisions, expected.precision, c.name)
            assertEqual(curve.recalls, expected.recall, c.name)
        }
    }

    func testHandWorkedAUROCCountsTiesHalf() throws {
        // Pairs (anomalous, normal): (0.5, 0.5) tie = ½, (0.5, 0.2) = 1, (0.9, 0.5) = 1, (0.9, 0.2) = 1.
        XCTAssertEqual(try auroc(scores: [0.5, 0.9, 0.5, 0.2], labels: [true, true, false, false]), 3.5 / 4)
        XCTAssertEqual(try scaledAUROC(scores: [0.1, 0.9], labels: [true, false]), -1)
    }

    func testSingleClassIsATypedErrorSayingAUROCIsUndefined() {
        for labels in [[true, true, true], [false, false, false]] {
            XCTAssertThrowsError(try auroc(scores: [1, 2, 3], labels: labels)) { error in
                XCTAssertEqual(error as? MetricError,
                               .singleClass(metric: "AUROC", allAnomalous: labels[0], count: 3))
                XCTAssertTrue("\(error)".contains("AUROC is undefined"), "\(error)")
                XCTAssertTrue("\(error)".contains("AUROC/AP"), "\(error)")
            }
        }
        XCTAssertThrowsError(try averagePrecision(scores: [1, 2], labels: [true, true])) { error in
            XCTAssertEqual(error as? MetricError, .singleClass(metric: "AP", allAnomalous: true, count: 2))
        }
        XCTAssertThrowsError(try rocCurve(scores: [1, 2], labels: [false, false]))
        XCTAssertThrowsError(try precisionRecallCurve(scores: [1, 2], labels: [false, false]))
    }

    func testBadInputNamesTheProblem() {
        XCTAssertThrowsError(try auroc(scores: [0.1, 0.2, .nan, 0.3], labels: [true, false, true, false])) {
            guard case .nonFiniteScore(index: 2, value: let value)? = $0 as? MetricError else {
                return XCTFail("\($0)")
            }
            XCTAssertTrue(value.isNaN)
            XCTAssertTrue("\($0)".contains("index 2"))
        }
        XCTAssertThrowsError(try averagePrecision(scores: [0.1, -.infinity], labels: [true, false])) {
            XCTAssertEqual($0 as? MetricError, .nonFiniteScore(index: 1, value: -.infinity))
        }
        XCTAssertThrowsError(try auroc(scores: [0.1, 0.2, 0.3], labels: [true, false])) {
            XCTAssertEqual($0 as? MetricError,
                           .lengthMismatch(what: "labels (one per score)", expected: 3, actual: 2))
        }
        XCTAssertThrowsError(try auroc(scores: [], labels: [])) {
            XCTAssertEqual($0 as? MetricError, .emptyInput(what: "scores"))
        }
    }

    private func assertEqual(_ actual: [Double], _ expected: [Double], _ name: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, name, file: file, line: line)
        for (a, e) in zip(actual, expected) {
            XCTAssertEqual(a, e, accuracy: 1e-12, name, file: file, line: line)
        }
    }
}
